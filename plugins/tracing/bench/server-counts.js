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
const { fork } = require('node:child_process');
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

async function server(mode) {
  const { performance } = require('node:perf_hooks');
  const { createHook } = require('node:async_hooks');
  const { Worker } = require('node:worker_threads');
  if (mode === 'sdk1pct') require(bench('kinds/tracing-sdk.js')).installTracingSdk(0.01);
  if (mode === 'sdk100') require(bench('kinds/tracing-sdk.js')).installTracingSdk(1);
  const { trellisKind } = require(bench('kinds/trellis.js'));
  const served = await trellisKind.serve({ plugins: mode !== 'bare' });
  let promises = 0;
  let clockReads = 0;
  let counting = false;
  const hook = createHook({ init(_id, type) { if (counting && type === 'PROMISE') promises++; } });
  const now = performance.now.bind(performance);
  performance.now = () => {
    if (counting) clockReads++;
    return now();
  };
  const worker = new Worker(__filename, { argv: ['--client', mode, String(served.port)] });
  const ask = (what) => new Promise((resolve) => {
    worker.once('message', resolve);
    worker.postMessage(what);
  });
  await ask({ calls: CALLS / 4 }); // warm-up: every series, cache and JIT tier in place
  hook.enable();
  counting = true;
  const done = await ask({ calls: CALLS });
  counting = false;
  hook.disable();
  // Then timed, hooks off: the server thread's busy time per call (event-loop utilisation's active
  // time, this thread only). A timing: it moves with the machine's load, unlike the counts.
  const busy = [];
  for (let round = 0; round < 3; round++) {
    const before = performance.eventLoopUtilization();
    const timed = await ask({ calls: CALLS });
    busy.push((performance.eventLoopUtilization(before).active * 1000) / timed.calls);
  }
  busy.sort((a, b) => a - b);
  await worker.terminate();
  await served.close();
  process.send({ mode, calls: done.calls, errors: done.errors, promises: promises / done.calls, clockReads: clockReads / done.calls, busyUs: busy[1] });
  process.exit(0);
}

async function client(mode, port) {
  const { parentPort } = require('node:worker_threads');
  if (mode === 'sdk1pct') require(bench('kinds/tracing-sdk.js')).installTracingSdk(0.01);
  if (mode === 'sdk100') require(bench('kinds/tracing-sdk.js')).installTracingSdk(1);
  const { trellisKind } = require(bench('kinds/trellis.js'));
  const caller = await trellisKind.connect({ port, connections: 1, plugins: mode !== 'bare' });
  const { runCalls } = require(bench('load.js'));
  parentPort.on('message', ({ calls }) => void runCalls(caller, calls, CONCURRENCY).then((done) => parentPort.postMessage(done)));
}

if (process.argv[2] === '--client') {
  void client(process.argv[3], Number(process.argv[4]));
} else if (process.argv[2] === '--server') {
  void server(process.argv[3]);
} else {
  (async () => {
    console.log(`server side, per call (${CALLS} calls, ${CONCURRENCY} in flight; build: ${ROOT})`);
    for (const mode of MODES) {
      const result = await new Promise((resolve, reject) => {
        const child = fork(__filename, ['--server', mode], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        child.once('message', resolve);
        child.once('exit', (code) => code !== 0 && reject(new Error(`${mode} exited with ${code}`)));
      });
      console.log(`${mode.padEnd(8)} promises ${result.promises.toFixed(2)}  performance.now() ${result.clockReads.toFixed(2)}  server thread busy ${result.busyUs.toFixed(2)} µs/call (median of 3; a timing)  (${result.errors} errors)`);
    }
  })();
}
