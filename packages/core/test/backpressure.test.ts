import t from 'tap';
import { Code, MemoryRegistry, RpcClient, RpcServer, type ServerInvocation } from '../src/index.js';
import { FrameType } from '../src/transport/frame.js';
import { ECHO, echoHandlers, startEchoServer, waitFor, type EchoRequest } from './fixtures/json-service.js';
import { echoRequest, pingFrame, RawPeer, responseHeader } from './fixtures/raw-peer.js';

/** Polls until `value()` has not changed for `quietMs` (no event says "the server stopped reading"). */
async function settled(value: () => number, quietMs = 400): Promise<number> {
  let last = value();
  for (;;) {
    await new Promise((r) => setTimeout(r, quietMs));
    const now = value();
    if (now === last) return now;
    last = now;
  }
}

t.test('a peer that sends large requests and never reads: the server stops reading, loses nothing', async (t) => {
  const { server, address, stats } = await startEchoServer('a');
  const attacker = await RawPeer.connect(server.port);
  const good = new RpcClient({ service: ECHO, addresses: [address] });
  t.teardown(async () => { attacker.destroy(); await good.close(); await server.close({ graceMs: 0 }); });
  attacker.socket.pause(); // never reads: the server's answers pile up on its side
  const requests = 64;
  const message = 'm'.repeat(256 * 1024);
  for (let id = 1; id <= requests * 2; id += 2) attacker.write(echoRequest(id, { message }));
  await waitFor(() => stats.calls > 0);
  const handled = await settled(() => stats.calls);
  t.ok(handled < requests, `the server handled ${handled} of ${requests} and then stopped reading`);
  t.ok(attacker.socket.writableLength > 0, 'the rest waits on the attacker\'s side');
  t.match(await good.invoke('Echo', { message: 'meanwhile' }), { message: 'meanwhile' }, 'other connections are served');
  attacker.socket.resume(); // reads at last: every request is answered, none was dropped
  for (let id = 1; id <= requests * 2; id += 2) t.equal(responseHeader(await attacker.response(id, 30_000)).code, Code.OK);
  t.equal(stats.calls, requests + 1, 'each ran once (and the good client\'s call)');
});

t.test('requests held by running handlers past maxInflightRequestBytes stop the reading, not the calls', async (t) => {
  // Counted as handlers running at once (not as handlers started within a quiet spell: on a loaded
  // machine a poll can oversleep the first handlers' 300 ms, and the next ones start as they should).
  const handlers = echoHandlers('a');
  let running = 0;
  let mostRunning = 0;
  const counted = async (request: EchoRequest, call: ServerInvocation) => {
    mostRunning = Math.max(mostRunning, ++running);
    try {
      return await handlers.echo(request, call);
    } finally {
      running--;
    }
  };
  const server = new RpcServer({ host: '127.0.0.1', registry: new MemoryRegistry(), tcp: { maxInflightRequestBytes: 1024 * 1024 } });
  server.addService(ECHO, { echo: counted, mutate: counted });
  await server.start();
  const peer = await RawPeer.connect(server.port);
  t.teardown(async () => { peer.destroy(); await server.close({ graceMs: 0 }); });
  const message = 'm'.repeat(256 * 1024);
  for (let id = 1; id <= 40; id += 2) peer.write(echoRequest(id, { message, delayMs: 300 }));
  for (let id = 1; id <= 40; id += 2) t.equal(responseHeader(await peer.response(id, 30_000)).code, Code.OK);
  t.ok(mostRunning <= 8, `at most ${mostRunning} handlers of 20 ran at once (about 1 MiB of requests)`);
  t.equal(handlers.stats.calls, 20, 'all ran in the end');
});

t.test('a PING flood is answered with GOAWAY RESOURCE_EXHAUSTED; others are unaffected', async (t) => {
  const errors: string[] = [];
  const { server, address } = await startEchoServer('a', { tcp: { maxPingsPerSecond: 50, onProtocolError: (_p, m) => errors.push(m) } });
  const good = new RpcClient({ service: ECHO, addresses: [address] });
  const polite = await RawPeer.connect(server.port);
  const flooder = await RawPeer.connect(server.port);
  t.teardown(async () => { polite.destroy(); flooder.destroy(); await good.close(); await server.close({ graceMs: 0 }); });
  for (let i = 0; i < 40; i++) polite.write(pingFrame());
  for (let i = 0; i < 40; i++) t.same((await polite.next((f) => f.type === FrameType.PONG)).body, Buffer.alloc(8, 7), 'a PONG echoes the PING\'s 8 bytes');
  flooder.write(Buffer.concat(Array.from({ length: 10_000 }, pingFrame)));
  const goAway = responseHeader(await flooder.next((f) => f.type === FrameType.GOAWAY));
  t.equal(goAway.code, Code.RESOURCE_EXHAUSTED);
  t.match(goAway.message, /more than 50 PINGs in a second \(maxPingsPerSecond\)/);
  await flooder.closed;
  t.ok(flooder.frames.filter((f) => f.type === FrameType.PONG).length <= 50, 'at most the allowed PONGs were sent');
  t.match(errors.join('\n'), /maxPingsPerSecond/, 'the server reports it');
  t.match(await good.invoke('Echo', { message: 'fine' }), { message: 'fine' });
});

t.test('the client side learns the GOAWAY reason: a protocol error is not "server stopping"', async (t) => {
  const { server, address } = await startEchoServer('a', { tcp: { maxPingsPerSecond: 5, onProtocolError: () => {} } });
  const client = new RpcClient({ service: ECHO, addresses: [address], transparentRetries: 0, timeoutMs: 60_000 });
  t.teardown(async () => { await client.close(); await server.close({ graceMs: 0 }); });
  await client.invoke('Echo', {});
  const transport = client.transport;
  const endpoint = client.endpoints[0]!;
  // A call that only the GOAWAY can end (its handler would answer after 30 s, its deadline later still).
  const slow = client.invoke('Echo', { delayMs: 30_000 }).catch((e: unknown) => e);
  await Promise.allSettled(Array.from({ length: 20 }, () => transport.ping(endpoint, 1000)));
  const error = (await slow) as { code: number; message: string; mayHaveRun: boolean };
  t.equal(error.code, Code.UNAVAILABLE);
  t.match(error.message, /closed by the server: more than 5 PINGs in a second \(maxPingsPerSecond\)/, 'the reason reaches the caller');
  t.equal(error.mayHaveRun, true, 'it was written');
  t.not(transport.state(endpoint), 'draining', 'the endpoint is not treated as shutting down');
  t.match(await client.invoke('Echo', { message: 'again' }), { message: 'again' }, 'the next call redials');
});
