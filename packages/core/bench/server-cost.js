'use strict';
// The SERVER side of apps/bench's "trellis" kind, per call: bytes allocated (V8's sampling heap
// profiler, objects that died young included, as apps/bench's --profile counts them) and their top
// allocation sites, garbage-collection time (a PerformanceObserver on 'gc' entries of the server
// thread), scavenges per 1k calls, the young generation's size, and the server thread's busy time
// (event-loop utilisation). Bare server against every server governance plugin (apps/bench's
// serverGovernance(): tracing with no SDK, metrics, health, serverAuth, limiter).
//
// The server runs in the main thread, its client (the same plugins on its side) in a worker thread:
// heap profiles and GC entries are per isolate, so the client's allocations are not counted. Bytes
// per call are an estimate from samples (every ~1 KiB) but move little with the machine's load; GC
// time and busy time are timings, which do on a shared machine.
//
//   node packages/core/bench/server-cost.js [--root <a checkout with apps/bench built>] [--sites N] [modes…]
//
// modes: bare, nosdk (default: both). Each mode runs in its own process. `--root` measures another
// build (e.g. the branch point's) with this same script.
const { fork } = require('node:child_process');
const path = require('node:path');

const argv = process.argv.slice(2);
const take = (flag, fallback) => {
  const at = argv.indexOf(flag);
  return at >= 0 ? argv.splice(at, 2)[1] : fallback;
};
const ROOT = path.resolve(take('--root', process.env.SERVER_COST_ROOT ?? path.resolve(__dirname, '../../..')));
process.env.SERVER_COST_ROOT = ROOT;
const SITES = Number(take('--sites', 12));
const MODES = argv.length > 0 && argv[0] !== '--server' && argv[0] !== '--client' ? argv : ['bare', 'nosdk'];
const CALLS = Number(process.env.SERVER_COST_CALLS ?? 200_000);
const CONCURRENCY = 256;
const HEAP_SAMPLE_BYTES = 1024;

const bench = (file) => path.join(ROOT, 'apps/bench/dist', file);

function post(session, method, params = {}) {
  return new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));
}

/** Bytes by allocation site (function, file:line), from a sampling heap profile's tree. */
function sites(profile) {
  const bySite = new Map();
  let total = 0;
  const walk = (node) => {
    if (node.selfSize > 0) {
      const f = node.callFrame;
      const site = `${f.functionName || '(anonymous)'} ${f.url ? `${path.basename(f.url)}:${f.lineNumber + 1}` : 'native'}`;
      bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
      total += node.selfSize;
    }
    for (const child of node.children) walk(child);
  };
  walk(profile.head);
  return { total, bySite };
}

async function server(mode) {
  const { performance, PerformanceObserver } = require('node:perf_hooks');
  const { Session } = require('node:inspector');
  const { Worker } = require('node:worker_threads');
  const v8 = require('node:v8');
  const { trellisKind } = require(bench('kinds/trellis.js'));
  const served = await trellisKind.serve({ plugins: mode !== 'bare' });
  const worker = new Worker(__filename, { argv: ['--client', mode, String(served.port)] });
  const ask = (what) => new Promise((resolve) => {
    worker.once('message', resolve);
    worker.postMessage(what);
  });
  await ask({ calls: CALLS / 2 }); // warm-up: every series, cache and JIT tier in place

  const session = new Session();
  session.connect();
  await post(session, 'HeapProfiler.enable');
  await post(session, 'HeapProfiler.startSampling', { samplingInterval: HEAP_SAMPLE_BYTES, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  const sampled = await ask({ calls: CALLS });
  const { profile } = await post(session, 'HeapProfiler.stopSampling');
  await post(session, 'HeapProfiler.disable');
  session.disconnect();
  const heap = sites(profile);

  // Then timed, no profiler: GC time and busy time per call (timings: they move with the load).
  const rounds = [];
  for (let round = 0; round < 3; round++) {
    let gcMs = 0;
    let scavenges = 0;
    let majors = 0;
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        gcMs += entry.duration;
        if (entry.detail?.kind === 1) scavenges++; // NODE_PERFORMANCE_GC_MINOR
        else majors++;
      }
    });
    observer.observe({ entryTypes: ['gc'] });
    const before = performance.eventLoopUtilization();
    const timed = await ask({ calls: CALLS });
    const busyUs = (performance.eventLoopUtilization(before).active * 1000) / timed.calls;
    await new Promise((resolve) => setImmediate(resolve)); // the last entries are delivered
    observer.disconnect();
    rounds.push({ busyUs, gcUs: (gcMs * 1000) / timed.calls, scavengesPer1k: (scavenges * 1000) / timed.calls, majors });
  }
  rounds.sort((a, b) => a.busyUs - b.busyUs);
  const newSpace = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  await worker.terminate();
  await served.close();
  const top = [...heap.bySite].sort((a, b) => b[1] - a[1]).slice(0, SITES).map(([site, bytes]) => [site, bytes / sampled.calls]);
  process.send({
    mode, calls: sampled.calls, errors: sampled.errors, bytes: heap.total / sampled.calls, top, median: rounds[1],
    gcUs: rounds.map((r) => r.gcUs), youngMiB: newSpace.space_size / 2 ** 20,
  });
  process.exit(0);
}

async function client(mode, port) {
  const { parentPort } = require('node:worker_threads');
  const { trellisKind } = require(bench('kinds/trellis.js'));
  const caller = await trellisKind.connect({ port, connections: 1, plugins: mode !== 'bare' });
  const { makeRequest } = require(bench('payload.js'));
  parentPort.on('message', ({ calls }) => {
    let sent = 0;
    let ended = 0;
    let errors = 0;
    const request = makeRequest(1);
    const failed = () => {
      errors++;
      next();
    };
    const slot = { ok: () => next(), fail: failed, node: (error) => (error ? failed() : next()) };
    const next = () => {
      if (++ended === calls) parentPort.postMessage({ calls, errors });
      else if (sent < calls) send();
    };
    const send = () => {
      sent++;
      caller.call(request, slot);
    };
    for (let i = 0; i < CONCURRENCY && sent < calls; i++) send();
  });
}

if (process.argv[2] === '--client') {
  void client(process.argv[3], Number(process.argv[4]));
} else if (process.argv[2] === '--server') {
  void server(process.argv[3]);
} else {
  (async () => {
    console.log(`server side, per call (${CALLS} calls a round, ${CONCURRENCY} in flight, one connection; build: ${ROOT})`);
    for (const mode of MODES) {
      const r = await new Promise((resolve, reject) => {
        const child = fork(__filename, ['--server', mode], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        child.once('message', resolve);
        child.once('exit', (code) => code !== 0 && reject(new Error(`${mode} exited with ${code}`)));
      });
      const m = r.median;
      console.log(`${mode.padEnd(6)} allocated ${r.bytes.toFixed(0)} B/call (sampled)  GC ${m.gcUs.toFixed(2)} µs/call [${r.gcUs.map((g) => g.toFixed(2)).join(' ')}]  `
        + `scavenges ${m.scavengesPer1k.toFixed(2)}/1k calls  young gen ${r.youngMiB.toFixed(0)} MiB  busy ${m.busyUs.toFixed(2)} µs/call (timings: median round by busy time)  (${r.errors} errors)`);
      for (const [site, bytes] of r.top) console.log(`    ${bytes.toFixed(0).padStart(5)} B  ${site}`);
    }
  })();
}
