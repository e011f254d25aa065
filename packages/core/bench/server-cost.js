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
//   node packages/core/bench/server-cost.js [--root <a checkout with apps/bench built>] [--sites N] [--cpu] [--survivors] [modes…]
//
// modes: bare, nosdk (default: both). Each mode runs in its own process. `--root` measures another
// build (e.g. the branch point's) with this same script. `--cpu` adds a round under the CPU profiler
// (self time per function, a timing); `--survivors` counts what the server's scavenges copied and
// promoted (--trace-gc-nvp; the client then runs in a process of its own).
//
// The frame (a server process per mode, its client answering `{ calls }` with runCalls) is apps/bench's
// server-side-cost harness, shared with plugins/tracing/bench/server-counts.js; this file is what is
// measured and printed.
const path = require('node:path');

const argv = process.argv.slice(2);
const take = (flag, fallback) => {
  const at = argv.indexOf(flag);
  return at >= 0 ? argv.splice(at, 2)[1] : fallback;
};
const ROOT = path.resolve(take('--root', process.env.SERVER_COST_ROOT ?? path.resolve(__dirname, '../../..')));
process.env.SERVER_COST_ROOT = ROOT;
const SITES = Number(take('--sites', process.env.SERVER_COST_SITES ?? 12));
process.env.SERVER_COST_SITES = String(SITES);
// Like --root, travels to the forked server process in the environment.
if (argv.includes('--cpu')) {
  argv.splice(argv.indexOf('--cpu'), 1);
  process.env.SERVER_COST_CPU = '1';
}
const CPU = process.env.SERVER_COST_CPU === '1';
if (argv.includes('--survivors')) {
  argv.splice(argv.indexOf('--survivors'), 1);
  process.env.SERVER_COST_SURVIVORS = '1';
}
const SURVIVORS = process.env.SERVER_COST_SURVIVORS === '1';
const MODES = argv.length > 0 && argv[0] !== '--server' && argv[0] !== '--client' ? argv : ['bare', 'nosdk'];
// The frame comes from this checkout's apps/bench build; what it measures, from ROOT's.
const { runServerSideCost } = require(path.resolve(__dirname, '../../../apps/bench/dist/server-side-cost.js'));
const CALLS = Number(process.env.SERVER_COST_CALLS ?? 200_000);
const CONCURRENCY = 256;
const HEAP_SAMPLE_BYTES = 1024;
const ROUNDS = 5;

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

/**
 * What the server's scavenges in the timed rounds copied, from --trace-gc-nvp (exact counts, unlike
 * their durations): bytes that survived in the young generation and bytes promoted, per scavenge and
 * per call. The trace's times are ms since the isolate started, close to performance.now()'s.
 */
function survivors(trace, windows) {
  let scavenges = 0;
  let survived = 0;
  let promoted = 0;
  let pauseMs = 0;
  let calls = 0;
  const lines = trace.split('\n').filter((line) => line.includes(' gc=s '));
  for (const [from, to, n] of windows) {
    calls += n;
    for (const line of lines) {
      const at = Number(/\s(\d+(?:\.\d+)?) ms: /.exec(line)?.[1]);
      if (!(at >= from && at <= to)) continue;
      scavenges++;
      survived += Number(/ new_space_survived=(\d+)/.exec(line)[1]);
      promoted += Number(/ promoted=(\d+)/.exec(line)[1]);
      pauseMs += Number(/ pause=([\d.]+)/.exec(line)[1]);
    }
  }
  const per = (x) => (scavenges === 0 ? 0 : x / scavenges);
  return `scavenges in the timed rounds (--trace-gc-nvp): ${scavenges}, each copying ${(per(survived) / 1024).toFixed(0)} KiB that survived and promoting ${(per(promoted) / 1024).toFixed(0)} KiB `
    + `(${(survived / calls).toFixed(1)} + ${(promoted / calls).toFixed(1)} B per call); pause ${per(pauseMs).toFixed(2)} ms each (a timing)`;
}

/** µs per call of self time by function (file:line), idle and the profiler's own left out. */
function selfTimes(profile, calls) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const ticks = new Map();
  for (const id of profile.samples) ticks.set(id, (ticks.get(id) ?? 0) + 1);
  const deltas = profile.timeDeltas;
  const usPerSample = (profile.endTime - profile.startTime) / Math.max(1, deltas.length);
  const bySite = new Map();
  for (const [id, count] of ticks) {
    const f = byId.get(id).callFrame;
    if (f.functionName === '(idle)' || f.functionName === '(program)') continue;
    const site = `${f.functionName || '(anonymous)'} ${f.url ? `${path.basename(f.url)}:${f.lineNumber + 1}` : 'native'}`;
    bySite.set(site, (bySite.get(site) ?? 0) + count * usPerSample);
  }
  const total = [...bySite.values()].reduce((a, b) => a + b, 0);
  return [['(total, without idle and program)', total / calls], ...[...bySite].sort((a, b) => b[1] - a[1]).slice(0, SITES).map(([site, us]) => [site, us / calls])];
}

/** In the server process, after the warm-up: the heap profile, the CPU profile (--cpu), then the timed rounds. */
async function measure(mode, ask) {
  const { performance, PerformanceObserver } = require('node:perf_hooks');
  const { Session } = require('node:inspector');
  const v8 = require('node:v8');
  const session = new Session();
  session.connect();
  // SERVER_COST_HEAP=0 leaves the heap profiler out (to see the CPU profiler alone, with --cpu).
  let heap = { total: 0, bySite: new Map() };
  let sampled = { calls: 1, errors: 0 };
  if (process.env.SERVER_COST_HEAP !== '0') {
    await post(session, 'HeapProfiler.enable');
    await post(session, 'HeapProfiler.startSampling', { samplingInterval: HEAP_SAMPLE_BYTES, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    sampled = await ask(CALLS);
    const { profile } = await post(session, 'HeapProfiler.stopSampling');
    await post(session, 'HeapProfiler.disable');
    heap = sites(profile);
  }

  // With --cpu: one round under the CPU profiler (50 µs sampling), self time by function.
  let cpuTop = [];
  if (CPU) {
    await post(session, 'Profiler.enable');
    await post(session, 'Profiler.setSamplingInterval', { interval: 50 });
    await post(session, 'Profiler.start');
    const profiled = await ask(CALLS);
    const { profile: cpu } = await post(session, 'Profiler.stop');
    await post(session, 'Profiler.disable');
    cpuTop = selfTimes(cpu, profiled.calls);
  }
  session.disconnect();

  // Then timed, no profiler: GC time and busy time per call (timings: they move with the load).
  const rounds = [];
  const windows = [];
  for (let round = 0; round < ROUNDS; round++) {
    let gcMs = 0;
    let scavengeMs = 0;
    let scavenges = 0;
    let majors = 0;
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        gcMs += entry.duration;
        if (entry.detail?.kind === 1) { // NODE_PERFORMANCE_GC_MINOR
          scavenges++;
          scavengeMs += entry.duration;
        } else {
          majors++;
        }
      }
    });
    observer.observe({ entryTypes: ['gc'] });
    const before = performance.eventLoopUtilization();
    const from = performance.now();
    const timed = await ask(CALLS);
    windows.push([from, performance.now(), timed.calls]);
    const busyUs = (performance.eventLoopUtilization(before).active * 1000) / timed.calls;
    await new Promise((resolve) => setImmediate(resolve)); // the last entries are delivered
    observer.disconnect();
    rounds.push({ busyUs, gcUs: (gcMs * 1000) / timed.calls, scavengesPer1k: (scavenges * 1000) / timed.calls, scavengeMs: scavengeMs / Math.max(1, scavenges), majors });
  }
  rounds.sort((a, b) => a.busyUs - b.busyUs);
  const newSpace = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  const top = [...heap.bySite].sort((a, b) => b[1] - a[1]).slice(0, SITES).map(([site, bytes]) => [site, bytes / sampled.calls]);
  return {
    mode, calls: sampled.calls, errors: sampled.errors, bytes: heap.total / sampled.calls, top, cpuTop, median: rounds[ROUNDS >> 1],
    gcUs: rounds.map((r) => r.gcUs), youngMiB: newSpace.space_size / 2 ** 20, windows,
  };
}

/** In the parent: one mode's line, its allocation sites and (--cpu) self times. */
function report(r, trace) {
  const m = r.median;
  console.log(`${r.mode.padEnd(6)} allocated ${r.bytes.toFixed(0)} B/call (sampled)  busy ${m.busyUs.toFixed(2)} µs/call, GC ${m.gcUs.toFixed(2)} µs/call `
    + `(${m.scavengesPer1k.toFixed(2)} scavenges per 1k calls, ${m.scavengeMs.toFixed(2)} ms each, ${m.majors} major) in the median round by busy time; `
    + `GC µs/call of every round ${r.gcUs.map((g) => g.toFixed(2)).join(' ')}; young gen ${r.youngMiB.toFixed(0)} MiB  (${r.errors} errors)`);
  if (SURVIVORS) console.log(`  ${survivors(trace, r.windows)}`);
  for (const [site, bytes] of r.top) console.log(`    ${bytes.toFixed(0).padStart(5)} B  ${site}`);
  if (r.cpuTop.length > 0) console.log('  self time under the CPU profiler (a timing):');
  for (const [site, us] of r.cpuTop) console.log(`    ${us.toFixed(3).padStart(6)} µs  ${site}`);
}

runServerSideCost({
  script: __filename,
  root: ROOT,
  modes: MODES,
  concurrency: CONCURRENCY,
  warmUpCalls: CALLS / 2,
  title: `server side, per call (${CALLS} calls a round, ${CONCURRENCY} in flight, one connection; build: ${ROOT})`,
  // With --survivors the client is a process of its own: the server process then has one isolate,
  // whose scavenges --trace-gc-nvp reports (a worker thread's would be mixed in).
  clientProcess: SURVIVORS,
  serverExecArgv: SURVIVORS ? ['--trace-gc-nvp'] : [],
  captureServerStdout: SURVIVORS,
  measure,
  report,
});
