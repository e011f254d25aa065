import { RpcClient, RpcServer, ServerInterceptorOrder, definePlugin } from '@trellis/core';
import type { Clock } from '@trellis/core/spi';
import { createTickHandlers, loadTickService } from '@trellis/testkit';
import t from 'tap';
import { lalb, type LocalityAwareBalancer } from '../src/index.js';

/**
 * Streams (issue #18) over the native transport on loopback: the kernel reports a
 * stream's pick as done at its set-up (`Pick.done` with the set-up latency), so LALB learns how fast
 * an endpoint accepts streams, never how long they stay open.
 *
 * The lengths that tell set-up from duration are on the client's clock (the kernel times every
 * attempt on it, and LALB learns on it), set by the test: the wall clock plus what the test adds.
 * slowOpen takes 10 s of it to accept a stream, and each tick of long's streams moves it 2 s, so a
 * 20-tick stream lasts 40 s. On the wall clock they took 150 ms and 400 ms, and a stall of a second
 * in one of long's set-ups (the servers run in this process) made long the slower endpoint to LALB
 * (simulated: 14 % of the share); a stall would now have to last 10 s.
 */
class TestClock implements Clock {
  addedMs = 0;
  now(): number {
    return performance.now() + this.addedMs;
  }
}

const SET_UP_MS = 10_000;
const TICK_MS = 2000;

/** A Tick provider in this process; `onOpen` runs as each call arrives, before its handler and so its headers. */
async function provider(t: { teardown(fn: () => unknown): void }, name: string, onOpen?: () => void) {
  const plugins = onOpen === undefined ? [] : [definePlugin({
    meta: { name: 'on-open', kernel: '^0.1.0' },
    setupServer(ctx) {
      ctx.addInterceptor((next) => (inv) => {
        onOpen();
        return next(inv);
      }, ServerInterceptorOrder.USER);
    },
  })];
  const server = new RpcServer({ host: '127.0.0.1', plugins }).addService(loadTickService(), createTickHandlers(name));
  await server.start();
  t.teardown(() => server.close({ graceMs: 1000 }));
  return `127.0.0.1:${server.port}`;
}

t.test('LALB learns a stream’s set-up latency, not its duration', async (t) => {
  // On the client's clock: `long` accepts at once and its 20-tick streams last ≥ 40 s; `slowOpen`
  // takes 10 s to accept (inside the set-up the client times: before the headers).
  const clock = new TestClock();
  const long = await provider(t, 'long');
  const slowOpen = await provider(t, 'slowOpen', () => (clock.addedMs += SET_UP_MS));
  let balancer: LocalityAwareBalancer | undefined;
  const client = new RpcClient({
    service: loadTickService(), addresses: [long, slowOpen], clock, timeoutMs: 600_000,
    // The clock moves 40 s per long stream: samples are kept however old (brpc's window), or each
    // stream would age the others out of it. Over such spans every rate is the floor (1 call/s), so a
    // weight is 1e9 / latency in µs; the default floor of weights (1000) would cap every latency
    // over 1 s at the same weight, and a stall of that length in long's set-ups would tie the two.
    plugins: [lalb({ maxSampleAgeMs: Number.POSITIVE_INFINITY, minWeight: 1, onBalancer: (b) => (balancer = b) })],
  });
  t.teardown(() => client.close());
  const row = (id: string) => balancer!.snapshot().find((s) => s.id === id)!;

  let shortestLongStreamMs = Infinity;
  // The kernel reports a stream's pick as done before it hands the stream over (set-up resolves the
  // call), so each latency LALB learns lies between the call's start and its first message: the
  // longest such wait of long's streams bounds what LALB may have learned of long, however long a
  // stall made a set-up. Learning durations would put 40 s streams in its window.
  let longestLongFirstTickMs = 0;
  // The end of a stream set up earlier teaches LALB nothing: what it learned of long when a stream's
  // first tick came is what it knows when that stream has ended (no other call between).
  const changedAtEnd: string[] = [];
  let sawOpenStream = false;
  const run = async (request: { count: number; intervalMs?: number }) => {
    const started = clock.now();
    let servedBy = '';
    let learnedAtFirstTick: number | undefined;
    for await (const tick of client.stream('Ticks', request)) {
      if (servedBy === '') {
        servedBy = (tick as { servedBy: string }).servedBy;
        if (servedBy === 'long') {
          longestLongFirstTickMs = Math.max(longestLongFirstTickMs, clock.now() - started);
          learnedAtFirstTick = row(long).avgLatencyMs;
        }
      }
      if (servedBy === 'long') clock.addedMs += TICK_MS;
      if (servedBy === 'long' && request.count > 1 && !sawOpenStream) {
        sawOpenStream = true;
        t.equal(row(long).inflight, 0, 'an open stream is not a pick in flight: the pick was done at set-up');
      }
    }
    if (servedBy !== 'long') return;
    if (request.count > 1) shortestLongStreamMs = Math.min(shortestLongStreamMs, clock.now() - started);
    const learnedAtEnd = row(long).avgLatencyMs;
    if (learnedAtEnd !== learnedAtFirstTick) changedAtEnd.push(`${learnedAtFirstTick} → ${learnedAtEnd} ms`);
  };
  // At least three rounds, and on until both endpoints had a stream: slowOpen any, long one of the
  // 20-tick ones. The first picks are LALB's dice, not an alternation: while one endpoint is still
  // unmeasured it gets the known one's weight, so each pick is a coin toss, and three rounds (six
  // streams) all landed on slowOpen about once in 64 runs. 30 rounds bound the loop.
  for (let i = 0; i < 3 || ((row(slowOpen).avgLatencyMs === 0 || !sawOpenStream) && i < 30); i++) {
    await run({ count: 20, intervalMs: 20 });
    await run({ count: 1 });
  }
  t.ok(sawOpenStream, 'some streams went to long');
  const learnedLong = row(long).avgLatencyMs;
  const learnedSlowOpen = row(slowOpen).avgLatencyMs;
  t.same(changedAtEnd, [], 'the end of a stream to long changed nothing LALB learned');
  // µs rounding: LALB keeps whole µs, the average rounded down; a sample may be rounded up 0.5 µs.
  t.ok(
    learnedLong > 0 && learnedLong <= longestLongFirstTickMs + 0.001,
    `long: learned ${learnedLong.toFixed(3)} ms, at most the longest wait for a stream's first tick (${longestLongFirstTickMs.toFixed(3)} ms); its 20-tick streams lasted ≥ ${shortestLongStreamMs.toFixed(0)} ms`,
  );
  t.ok(learnedSlowOpen >= SET_UP_MS, `slowOpen: learned ${learnedSlowOpen.toFixed(1)} ms, its set-up (${SET_UP_MS} ms)`);
  t.ok(row(long).share > row(slowOpen).share, `the fast-opening endpoint gets the larger share (${row(long).share.toFixed(2)} vs ${row(slowOpen).share.toFixed(2)})`);
});
