'use strict';
// Per-call cost of @trellis/tracing: EchoService calls in one process over loopback, client and
// server both instrumented, so the figure is the client's and the server's cost together.
// Not part of the tests. Build first: `pnpm exec tsc -p tsconfig.build.json && node bench/per-call.js`.
//
// Each mode runs in a fresh process (an AsyncLocalStorage context manager, once enabled, taxes every
// promise in the process), modes alternate over several rounds, and the median is reported. CPU time
// per call (user + system) is the main figure: unlike wall time it hardly moves when other work
// shares the machine.
const { fork } = require('node:child_process');

const MODES = {
  none: 'no plugin, no context manager',
  'als-only': 'no plugin, AsyncLocalStorage context manager',
  noop: 'tracing(), no SDK registered (no-op tracer)',
  unsampled: 'tracing(), SDK with AlwaysOff sampler',
  sampled: 'tracing(), SDK AlwaysOn + BatchSpanProcessor (discarding exporter)',
};
const CALLS = 200_000;
const WARMUP = 20_000;
const CONCURRENCY = 64;
const ROUNDS = 5;

async function measure(mode) {
  const { context, trace } = require('@opentelemetry/api');
  const { RpcClient, RpcServer } = require('@trellis/core');
  const { createEchoHandlers, loadEchoService } = require('@trellis/testkit');
  const { tracing } = require('../dist/index.js');
  const plugins = [];
  if (mode !== 'none') {
    const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  }
  if (mode === 'unsampled' || mode === 'sampled') {
    const sdk = require('@opentelemetry/sdk-trace-base');
    const discard = { export: (spans, done) => done({ code: 0 }), shutdown: async () => {} };
    trace.setGlobalTracerProvider(new sdk.BasicTracerProvider({
      sampler: mode === 'sampled' ? new sdk.AlwaysOnSampler() : new sdk.AlwaysOffSampler(),
      spanProcessors: [new sdk.BatchSpanProcessor(discard, { maxQueueSize: 8192, maxExportBatchSize: 1024, scheduledDelayMillis: 50 })],
    }));
  }
  if (mode === 'noop' || mode === 'unsampled' || mode === 'sampled') plugins.push(tracing());

  const server = new RpcServer({ host: '127.0.0.1', plugins });
  server.addService(loadEchoService(), createEchoHandlers({ servedBy: 'bench' }));
  await server.start();
  const client = new RpcClient({ service: loadEchoService(), addresses: [`127.0.0.1:${server.port}`], plugins: mode === 'none' || mode === 'als-only' ? [] : [tracing()] });
  const request = { message: 'hello world', id: '1234567890123', values: [1, 2, 3] };
  const run = async (calls) => {
    let next = 0;
    const worker = async () => {
      while (next++ < calls) await client.invoke('Echo', request);
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  };
  await run(WARMUP);
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  await run(CALLS);
  const wallNs = Number(process.hrtime.bigint() - started) / CALLS;
  const used = process.cpuUsage(cpu);
  const cpuNs = ((used.user + used.system) * 1000) / CALLS;
  await client.close();
  await server.close({ graceMs: 1000 });
  return { wallNs, cpuNs };
}

function runChild(mode) {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, [mode], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.once('message', resolve);
    child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`${mode} exited with ${code}`))));
  });
}

async function main() {
  if (process.argv[2]) {
    const result = await measure(process.argv[2]);
    process.send(result);
    return;
  }
  const results = Object.fromEntries(Object.keys(MODES).map((m) => [m, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of Object.keys(MODES)) results[mode].push(await runChild(mode));
  }
  const { median } = require('@trellis/core/toolkit');
  const base = median(results.none.map((r) => r.cpuNs));
  console.log(`${CALLS} Echo calls per run, ${CONCURRENCY} in flight, ${ROUNDS} rounds, node ${process.version}; medians`);
  console.log('mode        CPU/call   +vs none   wall/call   what');
  for (const [mode, what] of Object.entries(MODES)) {
    const cpu = median(results[mode].map((r) => r.cpuNs));
    const wall = median(results[mode].map((r) => r.wallNs));
    const delta = mode === 'none' ? '' : `${cpu >= base ? '+' : '−'}${(Math.abs(cpu - base) / 1000).toFixed(2)} µs`;
    console.log(`${mode.padEnd(11)} ${(cpu / 1000).toFixed(2).padStart(6)} µs ${delta.padStart(10)} ${(wall / 1000).toFixed(2).padStart(8)} µs   ${what}`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
