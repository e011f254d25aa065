'use strict';
// The SERVER kernel's own CPU per unary call, without sockets: RpcServer's dispatch driven with
// stand-in requests (one object as request and exchange, as the native transport hands them; the
// metadata a repeated credential block, shared as the transport's header memo shares it), 256 a
// batch, the answer encoded in place into a scratch buffer. What is left out — frame decoding,
// writes, the event loop's I/O — is the same for every plugin set, so the difference between modes
// is the governed path's own cost: the hooks, the plugins' observers and gates, the second clock read.
//
//   node packages/core/bench/server-dispatch-cost.js [--root <a checkout with apps/bench built>] [modes…]
//
// modes: bare, nosdk (apps/bench's serverGovernance(): tracing with no SDK, metrics, health,
// serverAuth, limiter); default both, each in its own process. Prints process CPU (user + system)
// per call, min and median of 7 rounds: a timing, so compare modes and builds one run after another.
//
// `--bytes` prints the heap bytes each batch of 256 calls leaves allocated instead (V8's used heap
// size after the batch's answers minus before it, per call; the median of 2,000 batches, so the few
// a scavenge ran in drop out): exact, not sampled, and not moved by the machine's load — small
// differences (one 16-byte heap number per call) show. It counts the batch's own stand-in requests
// (the same in every mode and build).
const { execFileSync } = require('node:child_process');
const path = require('node:path');

const argv = process.argv.slice(2);
const rootAt = argv.indexOf('--root');
const ROOT = rootAt >= 0 ? path.resolve(argv.splice(rootAt, 2)[1]) : path.resolve(__dirname, '../../..');
const ROUNDS = Number(process.env.DISPATCH_COST_ROUNDS ?? 4000);
const bytesAt = argv.indexOf('--bytes');
const BYTES = bytesAt >= 0;
if (BYTES) argv.splice(bytesAt, 1);
const BATCH = 256;

async function measure(mode) {
  const bench = (file) => path.join(ROOT, 'apps/bench/dist', file);
  const req = (name) => require(require.resolve(name, { paths: [path.join(ROOT, 'apps/bench')] }));
  const { RpcServer } = req('@trellis/core');
  const { loadProto } = req('@trellis/codec-protobuf');
  const { BENCH_PROTO } = require(bench('payload.js'));
  const { serverGovernance } = require(bench('governance.js'));
  const service = loadProto(BENCH_PROTO).service('bench.BenchService');
  const server = new RpcServer({ host: '127.0.0.1', plugins: mode === 'bare' ? [] : serverGovernance() });
  server.addService(service, { echo: async (request) => request });
  await server.start();
  const method = Object.values(service.methods)[0];
  const body = method.requestCodec.encode({ id: 1, name: 'x'.repeat(20), payload: 'y'.repeat(40) });
  const target = Buffer.allocUnsafe(64 * 1024);
  // The credential apps/bench's clientAuth sends, as one shared read-only block.
  const shared = new Map([['authorization', 'bench-token-0123456789abcdef']]);
  const peer = { host: '127.0.0.1', port: 1, identity: undefined };
  let answered = 0;
  let failed = 0;
  class StandIn {
    constructor() {
      this.onCancel = undefined;
      this.group = 'default';
      this.service = 'bench.BenchService';
      this.version = '1.0.0';
      this.method = method.name;
      this.body = body;
      this.timeoutMs = 10_000;
      this.attempt = 1;
      this.peer = peer;
      this.streamId = 1;
    }
    get metadata() { return new Map(shared); }
    get requestMetadata() { return shared; }
    respond() { answered++; }
    respondEncoded(_length, codec, message) { codec.encodeInto(message, target, 0); answered++; }
    fail() { failed++; }
  }
  const dispatch = server.dispatch; // private: the transport's RequestHandler
  const run = async (rounds) => {
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < BATCH; i++) {
        const request = new StandIn();
        dispatch(request, request);
      }
      await new Promise(setImmediate);
    }
  };
  await run(500);
  if (BYTES) {
    const { getHeapStatistics } = require('node:v8');
    const deltas = [];
    for (let r = 0; r < 2000; r++) {
      const before = getHeapStatistics().used_heap_size;
      await run(1);
      deltas.push((getHeapStatistics().used_heap_size - before) / BATCH);
    }
    deltas.sort((a, b) => a - b);
    await server.close({ graceMs: 10 });
    return `${mode.padEnd(6)} heap ${deltas[1000].toFixed(1)} B/call median (quartiles ${deltas[500].toFixed(1)}–${deltas[1500].toFixed(1)}; 2000 batches of ${BATCH})  answered ${answered}, failed ${failed}`;
  }
  const perCall = [];
  for (let k = 0; k < 7; k++) {
    const before = process.cpuUsage();
    await run(ROUNDS);
    const used = process.cpuUsage(before);
    perCall.push((used.user + used.system) / (ROUNDS * BATCH));
  }
  perCall.sort((a, b) => a - b);
  await server.close({ graceMs: 10 });
  return `${mode.padEnd(6)} CPU ${perCall[0].toFixed(3)} µs/call min, ${perCall[3].toFixed(3)} median (7 rounds of ${ROUNDS * BATCH} calls)  answered ${answered}, failed ${failed}`;
}

if (argv[0] === '--child') {
  measure(argv[1]).then((line) => console.log(line), (error) => { console.error(error); process.exitCode = 1; });
} else {
  console.log(`server kernel per call, no sockets (build: ${ROOT}; a timing: the machine's load moves it)`);
  for (const mode of argv.length > 0 ? argv : ['bare', 'nosdk']) {
    process.stdout.write(execFileSync(process.execPath, [__filename, '--root', ROOT, ...(BYTES ? ['--bytes'] : []), '--child', mode], { encoding: 'utf8' }));
  }
}
