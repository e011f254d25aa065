import { connect } from 'node:net';
import t from 'tap';
import { Code, RpcClient, TcpClientTransport, TcpServerTransport, type RpcError } from '../src/index.js';
import { ECHO, startEchoServer, waitFor } from './fixtures/json-service.js';
import { echoRequest, pingFrame, RawPeer, responseHeader, settingsFrame } from './fixtures/raw-peer.js';

/** Connects, writes `bytes` (maybe nothing), and resolves with how long the server took to close it. */
function closedAfter(port: number, bytes?: Buffer): Promise<number> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => { if (bytes) socket.write(bytes); });
    socket.on('data', () => {});
    socket.on('error', () => {});
    socket.on('close', () => resolve(Date.now() - started));
    // Only a guard against a hang (the default handshake timeout, 10 s, closes any connection before it).
    setTimeout(() => { socket.destroy(); reject(new Error('the server never closed the connection')); }, 30_000).unref();
  });
}

const ping = () => pingFrame().subarray();

t.test('a silent connection and a half-sent frame are closed after handshakeTimeoutMs (slowloris)', async (t) => {
  const errors: string[] = [];
  const { server } = await startEchoServer('a', { tcp: { handshakeTimeoutMs: 300, onProtocolError: (_p, m) => errors.push(m) } });
  t.teardown(() => server.close());
  t.ok((await closedAfter(server.port)) >= 250, 'a silent connection waited for the timeout, then closed');
  t.ok((await closedAfter(server.port, ping().subarray(0, 10))) >= 250, 'a half-sent frame is closed too');
  t.match(errors.join('\n'), /no complete frame within 300 ms/);
});

t.test('an idle connection is closed after idleTimeoutMs; a client just reconnects', async (t) => {
  const { server, address } = await startEchoServer('a', { tcp: { idleTimeoutMs: 300 } });
  t.teardown(() => server.close());
  t.ok((await closedAfter(server.port, Buffer.concat([settingsFrame(), ping()]))) >= 250, 'closed once idle');
  const client = new RpcClient({ service: ECHO, addresses: [address] });
  t.teardown(() => client.close());
  await client.invoke('Echo', {});
  // The retirement is awaited as the event it is (a fixed sleep could end before a loaded server's
  // idle timer fired, and the next call would then prove nothing about redialling).
  const endpoint = client.endpoints[0]!;
  const retired = new Promise<string>((resolve) => {
    const subscription = client.transport.onStateChange((event) => {
      if (event.endpoint.id === endpoint.id && event.state === 'idle') {
        subscription.dispose();
        resolve(event.reason);
      }
    });
  });
  // 'idle' (not 'backoff'): the client saw a retirement, not a failure, and dials again on demand.
  t.match(await retired, /after GOAWAY/, 'the server retired the idle connection with a GOAWAY');
  t.match(await client.invoke('Echo', { message: 'again' }), { message: 'again' }, 'the next call redials');
  t.equal(client.transport.state(endpoint), 'ready', 'on a new connection');
});

t.test('maxConnections: connections past the limit are closed at once', async (t) => {
  // A handshake timeout far past closedAfter's 30 s guard: the held connections stay open for the
  // whole test, and a third connection that is closed at all was refused, not timed out.
  const { server } = await startEchoServer('a', { tcp: { maxConnections: 2, handshakeTimeoutMs: 120_000 } });
  t.teardown(() => server.close({ graceMs: 0 }));
  const held = await Promise.all([0, 1].map(() => new Promise<ReturnType<typeof connect>>((resolve) => { const s = connect({ host: '127.0.0.1', port: server.port }, () => resolve(s)); })));
  t.teardown(() => held.forEach((s) => s.destroy()));
  await waitFor(() => server.connectionCount === 2); // both accepted (counted) before the third dials
  // The bound only rules out a wait for the 120 s handshake timeout; a loaded machine has room.
  t.ok((await closedAfter(server.port)) < 25_000, 'the third connection was refused');
  t.equal(server.connectionCount, 2, 'the two held connections are still open');
});

t.test('maxConcurrentStreams: excess requests are refused as not executed', async (t) => {
  // A peer that ignores the limit the server announced (the RpcClient queues instead: next test).
  const { server, stats } = await startEchoServer('a', { tcp: { maxConcurrentStreams: 5 } });
  const peer = await RawPeer.connect(server.port);
  t.teardown(async () => { peer.destroy(); await server.close(); });
  for (let id = 1; id <= 10; id++) peer.write(echoRequest(id, { delayMs: 200 }));
  const headers = await Promise.all(Array.from({ length: 10 }, (_, i) => peer.response(i + 1).then(responseHeader)));
  const refused = headers.filter((h) => h.code !== Code.OK);
  t.equal(refused.length, 5);
  for (const e of refused) {
    t.equal(e.code, Code.RESOURCE_EXHAUSTED);
    t.equal(e.notExecuted, true);
  }
  t.equal(stats.calls, 5, 'only five ran');
});

t.test('the client queues calls past the server\'s maxConcurrentStreams instead of being refused', async (t) => {
  const { server, address, stats } = await startEchoServer('a', { tcp: { maxConcurrentStreams: 5 } });
  const client = new RpcClient({ service: ECHO, addresses: [address], transparentRetries: 0 });
  t.teardown(async () => { await client.close(); await server.close(); });
  const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => client.invoke('Echo', { message: `m${i}`, delayMs: 50 })));
  t.same(results.filter((r) => r.status === 'rejected').map((r) => ((r as PromiseRejectedResult).reason as Error).message), [], 'none refused');
  t.equal(stats.calls, 20, 'all ran, five at a time');
  // Within the deadline only: a call that cannot get a stream in time fails as never run.
  const blockers = Array.from({ length: 5 }, () => client.invoke('Echo', { delayMs: 1000 }));
  const late = (await client.invoke('Echo', {}, { timeoutMs: 200 }).catch((e: unknown) => e)) as RpcError;
  t.equal(late.code, Code.DEADLINE_EXCEEDED);
  t.equal(late.mayHaveRun, false, 'it was never sent');
  t.match(late.message, /waiting for a free stream .*maxConcurrentStreams/);
  await Promise.all(blockers);
});

t.test('too many metadata entries fail that call only, on either side', async (t) => {
  const { server, address, stats } = await startEchoServer('a', { tcp: { limits: { maxMetadataEntries: 8 } } });
  t.teardown(() => server.close());
  const metadata = new Map(Array.from({ length: 20 }, (_, i) => [`k${i}`, 'v'] as [string, string]));
  // A peer that ignores the announced limit: refused for that stream, the connection serves on.
  const peer = await RawPeer.connect(server.port);
  t.teardown(() => peer.destroy());
  peer.write(Buffer.concat([echoRequest(1, { message: 'too many' }, metadata), echoRequest(3, { message: 'fine' })]));
  const refused = responseHeader(await peer.response(1));
  t.equal(refused.code, Code.RESOURCE_EXHAUSTED);
  t.equal(refused.notExecuted, true);
  t.match(refused.message, /more than 8 metadata entries \(maxMetadataEntries\)/);
  t.equal(responseHeader(await peer.response(3)).code, Code.OK, 'the next call on the same connection is served');
  // The RpcClient checks before sending: nothing leaves the process.
  const client = new RpcClient({ service: ECHO, addresses: [address] });
  t.teardown(() => client.close());
  await client.invoke('Echo', {});
  const before = stats.calls;
  const error = (await client.invoke('Echo', {}, { metadata: Object.fromEntries(metadata) }).catch((e: unknown) => e)) as RpcError;
  t.equal(error.code, Code.RESOURCE_EXHAUSTED);
  t.equal(error.mayHaveRun, false);
  t.match(error.message, /request metadata of 20 entries exceeds the peer's limit of 8 \(maxMetadataEntries\)/);
  t.equal(stats.calls, before, 'the server never saw it');
});

t.test('transport options are checked when the transport is built (ERR_INVALID_OPTION names the option)', async (t) => {
  const bad: [string, () => unknown, RegExp][] = [
    ['server maxHeaderSize below 1024', () => new TcpServerTransport({ limits: { maxHeaderSize: 100 } }), /"limits\.maxHeaderSize" is 100; expected an integer in 1024\.\.65535/],
    ['client maxHeaderSize above 65535', () => new TcpClientTransport({ limits: { maxHeaderSize: 70_000 } }), /"limits\.maxHeaderSize" is 70000/],
    ['client maxBodySize 0', () => new TcpClientTransport({ limits: { maxBodySize: 0 } }), /"limits\.maxBodySize" is 0/],
    ['maxPingsPerSecond 0', () => new TcpServerTransport({ maxPingsPerSecond: 0 }), /"maxPingsPerSecond" is 0/],
    ['client maxPingsPerSecond 1.5', () => new TcpClientTransport({ maxPingsPerSecond: 1.5 }), /"maxPingsPerSecond" is 1\.5/],
    ['minReceiveRate -1', () => new TcpServerTransport({ minReceiveRate: -1 }), /"minReceiveRate" is -1/],
    ['receiveRateWindowMs 0', () => new TcpServerTransport({ receiveRateWindowMs: 0 }), /"receiveRateWindowMs" is 0/],
    ['maxPartialFrameBytes below one frame', () => new TcpServerTransport({ maxPartialFrameBytes: 1000 }), /"maxPartialFrameBytes" is 1000; expected an integer in 4210704\.\./],
    ['writeHighWaterMark 100', () => new TcpServerTransport({ writeHighWaterMark: 100 }), /"writeHighWaterMark" is 100/],
    ['maxInflightRequestBytes 0', () => new TcpServerTransport({ maxInflightRequestBytes: 0 }), /"maxInflightRequestBytes" is 0/],
    ['maxConcurrentStreams 0', () => new TcpServerTransport({ maxConcurrentStreams: 0 }), /"maxConcurrentStreams" is 0/],
    ['maxConnections 2.5', () => new TcpServerTransport({ maxConnections: 2.5 }), /"maxConnections" is 2\.5/],
  ];
  for (const [name, build, message] of bad) t.throws(build, { code: 'ERR_INVALID_OPTION', message }, name);
  t.doesNotThrow(() => new TcpServerTransport({ minReceiveRate: 0, maxPingsPerSecond: 1, limits: { maxHeaderSize: 1024 } }), 'minReceiveRate 0 turns the check off');
});
