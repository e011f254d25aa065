'use strict';
// Per-call cost of @trellis/tracing: EchoService calls in one process over loopback, client and
// server both instrumented, so the figure is the client's and the server's cost together.
// Not part of the tests. Build first: `pnpm exec tsc -p tsconfig.build.json && node bench/per-call.js`.
// PER_CALL_CALLS / PER_CALL_ROUNDS change the run's size; TRACING_BASELINE_DIST=<dir> (another build
// of this package, e.g. the previous commit's `tsc --outDir dist-old`) adds each tracing mode run
// with that build too, interleaved in the same rounds, for a before/after within one run.
//
// Each mode runs in a fresh process (an AsyncLocalStorage context manager, once enabled, taxes every
// promise in the process), modes alternate over several rounds, and the median is reported. CPU time
// per call (user + system) is the main figure: unlike wall time it hardly moves when other work
// shares the machine.
const { callsInFlight, interleavedModeRounds } = require('@trellis/testkit');

const MODES = {
  none: 'no plugin, no context manager',
  'als-only': 'no plugin, AsyncLocalStorage context manager in use (its promise hooks on)',
  noop: 'tracing(), no SDK registered (no-op tracer)',
  unsampled: 'tracing(), SDK with AlwaysOff sampler',
  ratio1pct: 'tracing(), SDK ParentBased(TraceIdRatioBased 1 %) + BatchSpanProcessor',
  sampled: 'tracing(), SDK AlwaysOn + BatchSpanProcessor (discarding exporter)',
};
const TRACING_MODES = ['noop', 'unsampled', 'ratio1pct', 'sampled'];
const BASELINE = process.env.TRACING_BASELINE_DIST;
if (BASELINE) for (const mode of TRACING_MODES) MODES[`${mode}@baseline`] = `${MODES[mode]}, baseline build`;
// PER_CALL_MODES=none,noop,noop@baseline runs only those modes (a shorter before/after on a busy machine).
if (process.env.PER_CALL_MODES) {
  const keep = new Set(process.env.PER_CALL_MODES.split(','));
  for (const mode of Object.keys(MODES)) if (!keep.has(mode)) delete MODES[mode];
}
const CALLS = Number(process.env.PER_CALL_CALLS ?? 200_000);
const WARMUP = 20_000;
const CONCURRENCY = 64;
const ROUNDS = Number(process.env.PER_CALL_ROUNDS ?? 5);

async function measure(runMode) {
  const { context, trace, ROOT_CONTEXT } = require('@opentelemetry/api');
  const { RpcClient, RpcServer } = require('@trellis/core');
  const { createEchoHandlers, loadEchoService } = require('@trellis/testkit');
  const [mode, build] = runMode.split('@');
  const { tracing } = require(build === 'baseline' ? require('node:path').resolve(BASELINE, 'index.js') : '../dist/index.js');
  const plugins = [];
  if (mode !== 'none') {
    const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    // Node 20's AsyncLocalStorage turns its promise hooks on at the first context.with and never off:
    // in any instrumented process something (an HTTP instrumentation, an exporter) has done so.
    context.with(ROOT_CONTEXT.setValue(Symbol('enabled'), true), () => {});
  }
  if (mode === 'unsampled' || mode === 'ratio1pct' || mode === 'sampled') {
    const sdk = require('@opentelemetry/sdk-trace-base');
    const discard = { export: (spans, done) => done({ code: 0 }), shutdown: async () => {} };
    const root = { unsampled: new sdk.AlwaysOffSampler(), ratio1pct: new sdk.TraceIdRatioBasedSampler(0.01), sampled: new sdk.AlwaysOnSampler() }[mode];
    trace.setGlobalTracerProvider(new sdk.BasicTracerProvider({
      sampler: new sdk.ParentBasedSampler({ root }),
      spanProcessors: [new sdk.BatchSpanProcessor(discard, { maxQueueSize: 8192, maxExportBatchSize: 1024, scheduledDelayMillis: 50 })],
    }));
  }
  if (TRACING_MODES.includes(mode)) plugins.push(tracing());

  const server = new RpcServer({ host: '127.0.0.1', plugins });
  server.addService(loadEchoService(), createEchoHandlers({ servedBy: 'bench' }));
  await server.start();
  const client = new RpcClient({ service: loadEchoService(), addresses: [`127.0.0.1:${server.port}`], plugins: mode === 'none' || mode === 'als-only' ? [] : [tracing()] });
  const request = { message: 'hello world', id: '1234567890123', values: [1, 2, 3] };
  const run = (calls) => callsInFlight(calls, CONCURRENCY, () => client.invoke('Echo', request));
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

async function main() {
  if (process.argv[2]) {
    const result = await measure(process.argv[2]);
    process.send(result);
    return;
  }
  const results = await interleavedModeRounds(__filename, Object.keys(MODES), ROUNDS);
  const { median } = require('@trellis/core/toolkit');
  const base = median(results.none.map((r) => r.cpuNs));
  console.log(`${CALLS} Echo calls per run, ${CONCURRENCY} in flight, ${ROUNDS} rounds, node ${process.version}; medians`);
  console.log('mode                 CPU/call   +vs none   wall/call   what');
  for (const [mode, what] of Object.entries(MODES)) {
    const cpu = median(results[mode].map((r) => r.cpuNs));
    const wall = median(results[mode].map((r) => r.wallNs));
    const delta = mode === 'none' ? '' : `${cpu >= base ? '+' : '−'}${(Math.abs(cpu - base) / 1000).toFixed(2)} µs`;
    console.log(`${mode.padEnd(20)} ${(cpu / 1000).toFixed(2).padStart(6)} µs ${delta.padStart(10)} ${(wall / 1000).toFixed(2).padStart(8)} µs   ${what}`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
