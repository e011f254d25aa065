import { createServer, type AddressInfo, type Socket } from 'node:net';
import t from 'tap';
import { definePlugin, RpcClient, TcpClientTransport, type Attempt, type CallEnd } from '../src/index.js';
import type { Clock } from '../src/spi.js';
import { ECHO, startEchoServer } from './fixtures/json-service.js';

// Clock readings a call shares with its transport, when the transport's clock is the client's own
// (the native one the client built): the send's reading starts the transport's deadline timer
// (OutboundRequest.sentAt), and each answer gets a reading for the read that brought it
// (ResponseSink's `arrivedAt`: one per read, shared by its answers) as the attempt's end.

/** A monotonic clock that counts its reads. */
function countingClock(offset = 0): Clock & { reads: number } {
  const clock = {
    reads: 0,
    now: () => {
      clock.reads++;
      return performance.now() + offset;
    },
  };
  return clock;
}

/** Records every attempt's start and latency and every call's end, as a governance plugin would see them. */
function recorder() {
  const attempts: { startedAt: number; latencyMs: number }[] = [];
  const ends: { endedAt: number; latencyMs: number }[] = [];
  const plugin = definePlugin({
    meta: { name: 'test-recorder', kernel: '^0.1.0' },
    setupClient: (ctx) => ctx.observe({
      attemptEnd: (a: Attempt) => void attempts.push({ startedAt: a.startedAt, latencyMs: a.latencyMs }),
      callEnd: (c: CallEnd) => void ends.push({ endedAt: c.endedAt, latencyMs: c.latencyMs }),
    }),
  });
  return { plugin, attempts, ends };
}

t.test('answers of one read share one end reading, on the client\'s clock', async (t) => {
  const { server, address } = await startEchoServer('a');
  const clock = countingClock();
  const seen = recorder();
  const client = new RpcClient({ service: ECHO, addresses: [address], clock, plugins: [seen.plugin] });
  t.teardown(async () => { await client.close(); await server.close(); });
  await client.invoke('Echo', { message: 'warm' });
  const calls = 200;
  const before = clock.reads;
  // Sent in one turn: the server answers them in a few writes, the client reads them in a few reads.
  await Promise.all(Array.from({ length: calls }, (_, i) => client.invoke('Echo', { message: String(i) })));
  const reads = clock.reads - before;
  // Per call without sharing: its start and its end reading (the transport's deadline timer uses the start's).
  t.ok(reads < 2 * calls, `fewer than 2 clock reads per call (${(reads / calls).toFixed(2)}): some answers shared a read's reading`);
  for (const a of seen.attempts) t.ok(a.latencyMs >= 0, 'an attempt ends after it started');
  for (const c of seen.ends) t.ok(c.latencyMs >= 0 && c.endedAt <= clock.now(), 'the call ended on the client\'s clock');
});

t.test('a transport on another clock: the attempt\'s end is read on the client\'s clock', async (t) => {
  const { server, address } = await startEchoServer('a');
  const clientClock = countingClock();
  const farAhead = countingClock(1e9); // another clock: its readings do not compare with the client's
  for (const [label, options] of [
    ['a given transport', { transport: new TcpClientTransport({ clock: farAhead }) }],
    ['the native transport with tcp.clock', { tcp: { clock: farAhead } }],
  ] as const) {
    const seen = recorder();
    const client = new RpcClient({ service: ECHO, addresses: [address], clock: clientClock, plugins: [seen.plugin], ...options });
    await client.invoke('Echo', { message: 'x' });
    await client.close();
    if ('transport' in options) await options.transport.close();
    t.equal(seen.attempts.length, 1, label);
    t.ok(seen.attempts[0]!.latencyMs >= 0 && seen.attempts[0]!.latencyMs < 60_000, `${label}: the latency is on the client's clock (${seen.attempts[0]!.latencyMs} ms)`);
    t.ok(seen.ends[0]!.latencyMs >= 0 && seen.ends[0]!.latencyMs < 60_000, `${label}: so is the call's`);
  }
  await server.close();
});

t.test('a call without observers reads the clock once: its start also starts the transport\'s deadline timer', async (t) => {
  const { server, address } = await startEchoServer('a');
  const clock = countingClock();
  const client = new RpcClient({ service: ECHO, addresses: [address], clock });
  t.teardown(async () => { await client.close(); await server.close(); });
  await client.invoke('Echo', { message: 'warm' });
  const before = clock.reads;
  for (let i = 0; i < 10; i++) await client.invoke('Echo', { message: String(i) });
  t.equal(clock.reads - before, 10, 'one reading per call');
  // The deadline still applies on the transport: a peer that accepts and never answers.
  const sockets: Socket[] = [];
  const silent = createServer((socket) => void sockets.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const port = (silent.address() as AddressInfo).port;
  const slow = new RpcClient({ service: ECHO, addresses: [`127.0.0.1:${port}`], clock, tcp: { connectTimeoutMs: 60_000 } });
  await t.rejects(slow.invoke('Echo', { message: 'x' }, { timeoutMs: 100 }), { code: 4, message: /deadline exceeded while connecting/ }, 'DEADLINE_EXCEEDED from the transport\'s timer');
  await slow.close();
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => silent.close(() => resolve()));
});
