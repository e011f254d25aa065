'use strict';
// How precisely a rate limit holds on the wall clock, end to end. Not part of the tests: the tests
// check the limiter's counts on a clock they move (test/rate-limit.test.ts); how close the rate
// comes to its limit in real time depends on the machine, so it is measured here.
// Build first: `pnpm exec tsc -p tsconfig.build.json && node bench/rate-limit-precision.js [runs]`.
//
// A provider in a child process has a 1,000 calls/s limit (burst 300); this process offers 3,000
// calls/s for 2 s, open loop, and reports the rate accepted over the calls sent after the first
// 300 ms (the burst is long spent by then: the count does not depend on where the bucket started).
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const { RpcClient, RpcError } = require('@trellis/core');
const { loadEchoService, startProvider } = require('@trellis/testkit');

const ECHO = loadEchoService();
const SERVICE = 'trellis.test.EchoService';
const [QPS, BURST, OFFERED_QPS, DURATION_MS, SKIP_MS] = [1000, 300, 3000, 2000, 300];

/**
 * Offers `qps` calls per second for `durationMs`, open loop: every tick sends what the schedule says
 * is due. Each outcome keeps when it was sent and answered (ms after the start). `maxGapMs` is the
 * longest this sender was held up between ticks (a starved machine).
 */
async function offer(call, qps, durationMs) {
  const total = Math.round((qps * durationMs) / 1000);
  const calls = [];
  const start = performance.now();
  let last = start;
  let maxGapMs = 0;
  while (calls.length < total) {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
    const due = Math.min(total, Math.floor(((now - start) * qps) / 1000) + 1);
    while (calls.length < due) {
      const sentAt = performance.now() - start;
      const outcome = (value) => ({ sentAt, doneAt: performance.now() - start, value });
      calls.push(call().then(outcome, outcome));
    }
    if (calls.length < total) await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return { outcomes: await Promise.all(calls), elapsedMs: last - start, maxGapMs };
}

/**
 * The accepted rate of the steady calls, as a range. The limiter counts time on the provider: the
 * steady calls reached it in a window that began between the first one's send and its reply, and
 * ended between the last one's send and its reply, so the rate lies between the count over the
 * longest and over the shortest such window. A sender stall lets the bucket refill meanwhile (at
 * most the burst), tokens rightly granted when the sender catches up: they are not counted against
 * the low side. A gap between replies longer than the burst covers (either side starved) let tokens
 * overflow the full bucket: those are not counted against the high side.
 */
function acceptedRate(outcomes, maxGapMs) {
  const steadyCalls = outcomes.filter((o) => o.sentAt >= SKIP_MS);
  const steady = steadyCalls.filter((o) => !(o.value instanceof Error)).length;
  const [first, last] = [steadyCalls[0], steadyCalls[steadyCalls.length - 1]];
  const shortestMs = last.sentAt - first.doneAt;
  const longestMs = Math.max(...steadyCalls.map((o) => o.doneAt)) - first.sentAt;
  const refilled = Math.min(BURST, Math.floor(maxGapMs));
  const replies = steadyCalls.map((o) => o.doneAt).sort((a, b) => a - b);
  let overflowed = 0;
  let longestReplyGapMs = 0;
  for (let i = 1; i < replies.length; i++) {
    const gap = replies[i] - replies[i - 1];
    longestReplyGapMs = Math.max(longestReplyGapMs, gap);
    overflowed += Math.max(0, Math.floor(gap) - BURST);
  }
  return {
    steady, shortestMs, longestMs, longestReplyGapMs,
    lowRate: (Math.max(0, steady - refilled) * 1000) / longestMs,
    highRate: shortestMs > 0 ? ((steady + overflowed) * 1000) / shortestMs : Infinity,
  };
}

async function main() {
  const runs = Number(process.argv[2] ?? 3);
  const provider = await startProvider({
    name: 'limited',
    // This package's build, by path: outside a test runner the child cannot resolve the package by its name.
    plugins: [{ module: path.join(__dirname, '..', 'dist', 'index.js'), export: 'limiter', options: { services: { [SERVICE]: { qps: QPS, burst: BURST } } } }],
  });
  const client = new RpcClient({ service: ECHO, addresses: [provider.address] });
  try {
    await client.invoke('Echo', { message: 'warm-up' }); // connect first: the clock starts with the load
    console.log(`limit ${QPS} calls/s (burst ${BURST}), offered ${OFFERED_QPS} calls/s for ${DURATION_MS} ms; rate over the calls sent after ${SKIP_MS} ms`);
    for (let run = 1; run <= runs; run++) {
      // The bucket refills to the burst between runs, as it would after any pause.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const { outcomes, elapsedMs, maxGapMs } = await offer(() => client.invoke('Echo', { message: 'x' }), OFFERED_QPS, DURATION_MS);
      const refused = outcomes.filter((o) => o.value instanceof RpcError).length;
      const r = acceptedRate(outcomes, maxGapMs);
      const sendingMs = elapsedMs - SKIP_MS;
      const perSecondSent = (r.steady * 1000) / sendingMs;
      console.log(
        `run ${run}: ${r.steady} accepted, sent over ${sendingMs.toFixed(0)} ms: ${perSecondSent.toFixed(0)} calls/s (${(((perSecondSent - QPS) / QPS) * 100).toFixed(1)} %); ` +
        `at the provider, in ${r.shortestMs.toFixed(0)}–${r.longestMs.toFixed(0)} ms: ${r.lowRate.toFixed(0)}–${r.highRate.toFixed(0)} calls/s; ` +
        `${refused} refused in all; longest sender stall ${maxGapMs.toFixed(0)} ms, longest gap between replies ${r.longestReplyGapMs.toFixed(0)} ms`,
      );
    }
  } finally {
    await client.close();
    await provider.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
