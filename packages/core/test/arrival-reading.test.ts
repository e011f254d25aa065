import t from 'tap';
import { definePlugin, RpcClient, TcpClientTransport, type Attempt, type CallEnd } from '../src/index.js';
import type { Clock } from '../src/spi.js';
import { ECHO, startEchoServer } from './fixtures/json-service.js';

// The native transport hands each answer a clock reading for the read that brought it (ResponseSink's
// `arrivedAt`): one reading per read, shared by the answers in it, used as the attempt's end — only
// when the transport's clock is the client's own.

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
  // Per call without sharing: its start, the transport's deadline timer and the end reading (3).
  t.ok(reads < 3 * calls, `fewer than 3 clock reads per call (${(reads / calls).toFixed(2)}): some answers shared a read's reading`);
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
