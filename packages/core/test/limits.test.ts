import { connect } from 'node:net';
import t from 'tap';
import { Code, RpcClient, type RpcError } from '../src/index.js';
import { encodeRequestFrame } from '../src/transport/header-codec.js';
import { ECHO, startEchoServer } from './fixtures/json-service.js';

/** Connects, writes `bytes` (maybe nothing), and resolves with how long the server took to close it. */
function closedAfter(port: number, bytes?: Buffer): Promise<number> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => { if (bytes) socket.write(bytes); });
    socket.on('data', () => {});
    socket.on('error', () => {});
    socket.on('close', () => resolve(Date.now() - started));
    setTimeout(() => { socket.destroy(); reject(new Error('the server never closed the connection')); }, 8000).unref();
  });
}

const ping = () => { const b = Buffer.alloc(24); b.writeUInt16BE(0x5452, 0); b[2] = 1; b[3] = 3; b.writeUInt32BE(8, 12); return b; };

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
  t.ok((await closedAfter(server.port, ping())) >= 250, 'closed once idle');
  const client = new RpcClient({ service: ECHO, addresses: [address] });
  t.teardown(() => client.close());
  await client.invoke('Echo', {});
  await new Promise((r) => setTimeout(r, 700)); // let the idle timeout close the client's connection
  t.match(await client.invoke('Echo', { message: 'again' }), { message: 'again' }, 'the next call redials');
});

t.test('maxConnections: connections past the limit are closed at once', async (t) => {
  const { server } = await startEchoServer('a', { tcp: { maxConnections: 2 } });
  t.teardown(() => server.close());
  const held = await Promise.all([0, 1].map(() => new Promise<ReturnType<typeof connect>>((resolve) => { const s = connect({ host: '127.0.0.1', port: server.port }, () => resolve(s)); })));
  t.teardown(() => held.forEach((s) => s.destroy()));
  await new Promise((r) => setTimeout(r, 50));
  t.ok((await closedAfter(server.port)) < 1000, 'the third connection was refused');
});

t.test('maxConcurrentStreams: excess requests are refused as not executed', async (t) => {
  const { server, address, stats } = await startEchoServer('a', { tcp: { maxConcurrentStreams: 5 } });
  const client = new RpcClient({ service: ECHO, addresses: [address] });
  t.teardown(async () => { await client.close(); await server.close(); });
  const results = await Promise.allSettled(Array.from({ length: 10 }, () => client.invoke('Echo', { delayMs: 200 })));
  const refused = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as RpcError);
  t.equal(refused.length, 5);
  for (const e of refused) {
    t.equal(e.code, Code.RESOURCE_EXHAUSTED);
    t.equal(e.mayHaveRun, false);
  }
  t.equal(stats.calls, 5, 'only five ran');
});

t.test('too many metadata entries close the connection', async (t) => {
  const errors: string[] = [];
  const { server } = await startEchoServer('a', { tcp: { limits: { maxMetadataEntries: 8 }, onProtocolError: (_p, m) => errors.push(m) } });
  t.teardown(() => server.close());
  const metadata = new Map(Array.from({ length: 20 }, (_, i) => [`k${i}`, 'v'] as [string, string]));
  const frame = encodeRequestFrame(1, { group: 'default', service: 'test.Echo', version: '', method: 'Echo', timeoutMs: 1000, attempt: 1, metadata }, Buffer.from('{}'));
  await closedAfter(server.port, frame);
  t.match(errors.join('\n'), /more than 8 metadata entries/);
});
