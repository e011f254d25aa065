'use strict';
// The CLIENT side of apps/bench's "trellis" kind over loopback, per call, exactly: bytes allocated
// by the client's isolate (its young generation's growth with a new space large enough that no
// scavenge runs during a round: every byte is counted, dead or alive), and with --counts the
// promises made and clock reads taken on the client. Bare client and server, against every client
// governance plugin with every server governance plugin, no OpenTelemetry SDK (apps/bench's
// clientGovernance() / serverGovernance(), as the "trellis-governance-nosdk" kind).
//
// The client runs in the main thread, the server in a worker thread (an isolate of its own, with a
// small young generation), on one connection, 256 calls in flight. Unlike
// apps/bench/dist/client-alloc-cost.js (an in-memory echo transport) this counts the native TCP
// transport's per-call work too: the frame writes, the response decoding, the deadline timer.
//
//   node packages/core/bench/client-cost.js [--root <checkout>] [--calls N] [--rounds R] [--counts | --sites] [modes…]
//
// modes: bare, nosdk (default: both), each in its own process. `--root` measures another build (e.g.
// the branch point's) with this same script. --counts wraps the client's clock to count its reads,
// which changes what V8 inlines: bytes are measured without it, counts in their own process. --sites
// prints the top allocation sites instead (V8's sampling heap profiler, one round).
// CLIENT_COST_NODE_FLAGS adds node flags to each measured process (a CPU profile of the client:
// "--cpu-prof --cpu-prof-interval 50"; the profiles land in the working directory), and
// CLIENT_COST_CONCURRENCY sets the calls in flight.
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');

const SEMI_SPACE_MB = 512;
const CONCURRENCY = Number(process.env.CLIENT_COST_CONCURRENCY ?? 256); // calls in flight (the env: for profiling at other depths)

if (isMainThread && process.argv[2] !== '--child') {
  const argv = process.argv.slice(2);
  const take = (flag, fallback) => {
    const at = argv.indexOf(flag);
    return at >= 0 ? argv.splice(at, 2)[1] : fallback;
  };
  const root = path.resolve(take('--root', path.resolve(__dirname, '../../..')));
  const calls = take('--calls', '50000');
  const rounds = take('--rounds', '5');
  const counts = argv.includes('--counts');
  const sites = argv.includes('--sites');
  const modes = argv.filter((a) => a !== '--counts' && a !== '--sites');
  console.log(`client per call over loopback, 256 in flight, one connection, ${calls} calls × ${rounds} rounds after a warm-up (${root}):`);
  for (const mode of modes.length > 0 ? modes : ['bare', 'nosdk']) {
    // CLIENT_COST_NODE_FLAGS (e.g. "--cpu-prof --cpu-prof-interval 50"): Node refuses --cpu-prof in NODE_OPTIONS.
    const flags = [...(process.env.CLIENT_COST_NODE_FLAGS ?? '').split(' ').filter(Boolean), `--min-semi-space-size=${SEMI_SPACE_MB}`, `--max-semi-space-size=${SEMI_SPACE_MB}`, '--expose-gc'];
    const child = spawnSync(process.execPath, [...flags, __filename, '--child', mode, root, calls, rounds, counts ? 'counts' : sites ? 'sites' : 'bytes'], { stdio: 'inherit' });
    if (child.status !== 0) process.exitCode = 1;
  }
} else if (isMainThread) {
  const [, , , mode, root, calls, rounds, what] = process.argv;
  client(mode, root, Number(calls), Number(rounds), what).catch((error) => {
    console.error(error);
    process.exit(1);
  });
} else {
  serve(workerData).catch((error) => {
    console.error(error);
    process.exit(1);
  });
}

/** Bytes per call by allocation site (function file:line) while `run` runs, from V8's sampling heap profiler. */
async function sampledSites(run, calls) {
  const { Session } = require('node:inspector');
  const session = new Session();
  session.connect();
  const post = (method, params = {}) => new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));
  await post('HeapProfiler.enable');
  await post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  await run();
  const { profile } = await post('HeapProfiler.stopSampling');
  session.disconnect();
  const bySite = new Map();
  const walk = (node) => {
    if (node.selfSize > 0) {
      const f = node.callFrame;
      const site = `${f.functionName || '(anonymous)'} ${f.url ? `${path.basename(f.url)}:${f.lineNumber + 1}` : 'native'}`;
      bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize / calls);
    }
    for (const child of node.children) walk(child);
  };
  walk(profile.head);
  return [...bySite].sort((a, b) => b[1] - a[1]).filter(([, bytes]) => bytes >= 0.5);
}

async function serve({ mode, root }) {
  const { trellisKind } = require(path.join(root, 'apps/bench/dist/kinds/trellis.js'));
  const server = await trellisKind.serve({ plugins: mode === 'nosdk' });
  parentPort.postMessage(server.port);
  parentPort.once('message', () => void server.close().then(() => process.exit(0)));
}

async function client(mode, root, calls, rounds, what) {
  const counts = what === 'counts';
  const v8 = require('node:v8');
  const { createHook } = require('node:async_hooks');
  const core = require(path.join(root, 'packages/core/dist/index.js'));
  const { loadProto } = require(path.join(root, 'packages/codec-protobuf/dist/index.js'));
  const { BENCH_PROTO } = require(path.join(root, 'apps/bench/dist/payload.js'));
  const { clientGovernance } = require(path.join(root, 'apps/bench/dist/governance.js'));
  const { runCalls } = require(path.join(root, 'apps/bench/dist/load.js'));

  const worker = new Worker(__filename, { workerData: { mode, root }, resourceLimits: { maxYoungGenerationSizeMb: 32 } });
  const port = await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });

  let reads = 0;
  const { performance } = require('node:perf_hooks');
  const clock = counts ? { now: () => (reads++, performance.now()) } : undefined;
  const rpc = new core.RpcClient({
    service: loadProto(BENCH_PROTO).service('bench.BenchService'),
    addresses: [`127.0.0.1:${port}`],
    tcp: { connectionsPerEndpoint: 1 },
    timeoutMs: 10_000,
    plugins: mode === 'nosdk' ? clientGovernance() : [],
    ...(clock === undefined ? {} : { clock }),
  });
  await rpc.start();
  const stub = rpc.stub();
  const caller = { call: (request, slot) => void stub.echo(request).then(slot.ok, slot.fail) };

  await runCalls(caller, 100_000, CONCURRENCY); // warm-up: every tier and cache in place
  if (what === 'sites') {
    console.log(`  ${mode}: top allocation sites, B/call (sampled every ~256 B, dead objects included):`);
    for (const [site, bytes] of await sampledSites(() => runCalls(caller, calls, CONCURRENCY), calls)) console.log(`    ${bytes.toFixed(1).padStart(7)} B  ${site}`);
    worker.postMessage('close');
    return rpc.close();
  }
  const newSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_used_size;
  const results = [];
  let errors = 0;
  for (let round = 0; round < rounds; round++) {
    // A scavenge empties the young generation; a full collection would also throw away optimized code
    // that embeds objects it frees ("weak objects" deopts), and the round would run partly unoptimized.
    global.gc({ type: 'minor' });
    let promises = 0;
    const hook = counts ? createHook({ init: (_id, type) => void (type === 'PROMISE' && promises++) }).enable() : undefined;
    let scavenges = 0;
    const { PerformanceObserver } = require('node:perf_hooks');
    const observer = new PerformanceObserver((list) => void (scavenges += list.getEntries().length));
    observer.observe({ entryTypes: ['gc'] }); // any collection (a scavenge, or a full one that empties the new space)
    reads = 0;
    const before = newSpace();
    const done = await runCalls(caller, calls, CONCURRENCY);
    const grown = newSpace() - before;
    hook?.disable();
    const readsNow = reads;
    await new Promise((resolve) => setImmediate(resolve)); // gc entries are delivered
    observer.disconnect();
    errors += done.errors;
    results.push({ bytes: grown / calls, scavenges, promises: promises / calls, reads: readsNow / calls });
  }
  const line = results.map((r) => (counts
    ? `${r.promises.toFixed(3)} promises / ${r.reads.toFixed(3)} clock reads`
    : r.scavenges > 0 ? `(${r.scavenges} GC: not counted)` : `${r.bytes.toFixed(1)} B`)).join(', ');
  console.log(`  ${mode.padEnd(6)} ${line}  (${errors} errors)`);
  worker.postMessage('close');
  await rpc.close();
}
