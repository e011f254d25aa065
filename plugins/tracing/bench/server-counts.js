'use strict';
// Exact per-call counts on the SERVER side of apps/bench's "trellis" kind: promises created (an
// async_hooks init hook) and `performance.now()` reads (the function wrapped: the kernel's clock, the
// plugins' and the SDK's), per call, with the bare server and with every server governance plugin
// (tracing, metrics, health, serverAuth, limiter — apps/bench's serverGovernance()), with no SDK, the
// SDK at 1 % and every call sampled. The server runs in this thread, the client (the same plugins on
// its side, the same SDK) in a worker thread: promise hooks and the wrapped clock are per thread, so
// the client's work is not counted. The counts do not move with the machine's load; the server
// thread's busy time per call printed beside them (event-loop utilisation) is a timing, which does.
//
//   node plugins/tracing/bench/server-counts.js [--root <a checkout with apps/bench built>] [modes…]
//
// modes: bare, nosdk, sdk1pct, sdk100 (default: all four). Each mode runs in its own process.
// `--root` measures another build (e.g. the branch point's) with this same script.
//
// The frame (a server process per mode, its client answering `{ calls }` with runCalls) is apps/bench's
// server-side-cost harness, shared with packages/core/bench/server-cost.js; this file is what is
// counted and printed.
const path = require('node:path');

const argv = process.argv.slice(2);
const rootAt = argv.indexOf('--root');
// The build measured travels to the forked server process and its client thread in the environment.
const ROOT = rootAt >= 0 ? path.resolve(argv.splice(rootAt, 2)[1]) : (process.env.SERVER_COUNTS_ROOT ?? path.resolve(__dirname, '../../..'));
process.env.SERVER_COUNTS_ROOT = ROOT;
const MODES = argv.length > 0 ? argv : ['bare', 'nosdk', 'sdk1pct', 'sdk100'];
const CALLS = Number(process.env.SERVER_COUNTS_CALLS ?? 40_000);
const CONCURRENCY = 256;

const bench = (file) => path.join(ROOT, 'apps/bench/dist', file);
// The frame comes from this checkout's apps/bench build; what it measures, from ROOT's.
const { runServerSideCost } = require(path.resolve(__dirname, '../../../apps/bench/dist/server-side-cost.js'));

/** On both sides, before the kind loads: the tracing SDK of the modes that have one. */
function prepare(mode) {
  if (mode === 'sdk1pct') require(bench('kinds/tracing-sdk.js')).installTracingSdk(0.01);
  if (mode === 'sdk100') require(bench('kinds/tracing-sdk.js')).installTracingSdk(1);
}

/** In the server process, after the warm-up: one counted run, then three timed ones. */
async function measure(mode, ask) {
  const { performance } = require('node:perf_hooks');
  const { createHook } = require('node:async_hooks');
  let promises = 0;
  let clockReads = 0;
  let counting = false;
  const hook = createHook({ init(_id, type) { if (counting && type === 'PROMISE') promises++; } });
  const now = performance.now.bind(performance);
  performance.now = () => {
    if (counting) clockReads++;
    return now();
  };
  hook.enable();
  counting = true;
  const done = await ask(CALLS);
  counting = false;
  hook.disable();
  // Then timed, hooks off: the server thread's busy time per call (event-loop utilisation's active
  // time, this thread only). A timing: it moves with the machine's load, unlike the counts.
  const busy = [];
  for (let round = 0; round < 3; round++) {
    const before = performance.eventLoopUtilization();
    const timed = await ask(CALLS);
    busy.push((performance.eventLoopUtilization(before).active * 1000) / timed.calls);
  }
  busy.sort((a, b) => a - b);
  return { mode, calls: done.calls, errors: done.errors, promises: promises / done.calls, clockReads: clockReads / done.calls, busyUs: busy[1] };
}

runServerSideCost({
  script: __filename,
  root: ROOT,
  modes: MODES,
  concurrency: CONCURRENCY,
  warmUpCalls: CALLS / 4,
  title: `server side, per call (${CALLS} calls, ${CONCURRENCY} in flight; build: ${ROOT})`,
  prepare,
  measure,
  report: (result) => console.log(`${result.mode.padEnd(8)} promises ${result.promises.toFixed(2)}  performance.now() ${result.clockReads.toFixed(2)}  server thread busy ${result.busyUs.toFixed(2)} µs/call (median of 3; a timing)  (${result.errors} errors)`),
});
