import { setTimeout as sleep } from 'node:timers/promises';
import { RpcClient, RpcServer, ServerInterceptorOrder, definePlugin } from '@trellis/core';
import { createTickHandlers, loadTickService } from '@trellis/testkit';
import t from 'tap';
import { lalb, type LocalityAwareBalancer } from '../src/index.js';

/**
 * Streams (issue #18) over the native transport on loopback: the kernel reports a
 * stream's pick as done at its set-up (`Pick.done` with the set-up latency), so LALB learns how fast
 * an endpoint accepts streams, never how long they stay open.
 */
async function provider(t: { teardown(fn: () => unknown): void }, name: string, setUpDelayMs: number) {
  const slowOpen = definePlugin({
    meta: { name: 'slow-open', kernel: '^0.1.0' },
    setupServer(ctx) {
      ctx.addInterceptor((next) => async (inv) => {
        await sleep(setUpDelayMs);
        return next(inv);
      }, ServerInterceptorOrder.USER);
    },
  });
  const server = new RpcServer({ host: '127.0.0.1', plugins: setUpDelayMs > 0 ? [slowOpen] : [] })
    .addService(loadTickService(), createTickHandlers(name));
  await server.start();
  t.teardown(() => server.close({ graceMs: 1000 }));
  return `127.0.0.1:${server.port}`;
}

t.test('LALB learns a stream’s set-up latency, not its duration', async (t) => {
  // `long` accepts at once and its streams last ≥ 400 ms; `slowOpen` takes 150 ms to accept, and
  // its streams end at once.
  const long = await provider(t, 'long', 0);
  const slowOpen = await provider(t, 'slowOpen', 150);
  let balancer: LocalityAwareBalancer | undefined;
  const client = new RpcClient({
    service: loadTickService(), addresses: [long, slowOpen], timeoutMs: 10_000,
    plugins: [lalb({ onBalancer: (b) => (balancer = b) })],
  });
  t.teardown(() => client.close());
  const row = (id: string) => balancer!.snapshot().find((s) => s.id === id)!;

  let shortestLongStreamMs = Infinity;
  // The kernel reports a stream's pick as done before it hands the stream over (set-up resolves the
  // call), so each latency LALB learns lies between the call's start and its first message: the
  // longest such wait of long's streams bounds what LALB may have learned of long. A stall during a
  // set-up lengthens both alike (bounding it by the streams' durations failed by chance: a stall of
  // some 200 ms in one set-up sufficed). Learning durations would put 400 ms streams in its window.
  let longestLongFirstTickMs = 0;
  // The end of a stream set up earlier teaches LALB nothing: what it learned of long when a stream's
  // first tick came is what it knows when that stream has ended (no other call between).
  const changedAtEnd: string[] = [];
  let sawOpenStream = false;
  const run = async (request: { count: number; intervalMs?: number }) => {
    const started = performance.now();
    let servedBy = '';
    let learnedAtFirstTick: number | undefined;
    for await (const tick of client.stream('Ticks', request)) {
      if (servedBy === '') {
        servedBy = (tick as { servedBy: string }).servedBy;
        if (servedBy === 'long') {
          longestLongFirstTickMs = Math.max(longestLongFirstTickMs, performance.now() - started);
          learnedAtFirstTick = row(long).avgLatencyMs;
        }
      }
      if (servedBy === 'long' && request.count > 1 && !sawOpenStream) {
        sawOpenStream = true;
        t.equal(row(long).inflight, 0, 'an open stream is not a pick in flight: the pick was done at set-up');
      }
    }
    if (servedBy !== 'long') return;
    if (request.count > 1) shortestLongStreamMs = Math.min(shortestLongStreamMs, performance.now() - started);
    const learnedAtEnd = row(long).avgLatencyMs;
    if (learnedAtEnd !== learnedAtFirstTick) changedAtEnd.push(`${learnedAtFirstTick} → ${learnedAtEnd} ms`);
  };
  // At least three rounds, and on until both endpoints had a stream: slowOpen any, long one of the
  // 400 ms ones. The first picks are LALB's dice, not an alternation: while one endpoint is still
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
    `long: learned ${learnedLong.toFixed(3)} ms, at most the longest wait for a stream's first tick (${longestLongFirstTickMs.toFixed(3)} ms); its 400 ms streams lasted ≥ ${shortestLongStreamMs.toFixed(0)} ms`,
  );
  t.ok(learnedSlowOpen >= 140, `slowOpen: learned ${learnedSlowOpen.toFixed(1)} ms, its set-up delay (150 ms)`);
  t.ok(row(long).share > row(slowOpen).share, `the fast-opening endpoint gets the larger share (${row(long).share.toFixed(2)} vs ${row(slowOpen).share.toFixed(2)})`);
});
