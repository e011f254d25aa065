'use strict';
// The tracing "ceiling": what OpenTelemetry itself costs a call, with nothing of @trellis/tracing in
// the way — the bare kernel plus only the OpenTelemetry calls the semantics require, made inline
// from the kernel's call observers (client: startSpan as a child of the active context, inject,
// end; server: extract, startSpan, context.with around the rest of the call, end), with the SDK as
// apps/bench registers it (AsyncLocalStorage context manager, ParentBased sampler, BatchSpanProcessor
// into an exporter that drops the spans) at 1 % and with every call sampled. Next to it the plugin
// itself in the same set-ups, and the bare kernel with no SDK.
//
// Client and server share one process (CPU per call is both sides together, as in per-call.js),
// each mode runs in a fresh process (the context manager's promise hooks stay on once enabled),
// modes alternate over several rounds, medians. bare ÷ mode is the best QPS ratio that mode can
// reach over the bare kernel (QPS ≈ 1 / CPU per call on a saturated machine): if the ceiling itself
// is below issue #17's target, no plugin can meet it.
//
//   node plugins/tracing/bench/ceiling.js    (CEILING_CALLS, CEILING_ROUNDS change the size; CEILING_MODES picks modes)
const { callsInFlight, interleavedModeRounds } = require('@trellis/testkit');

const MODES = {
  bare: 'bare kernel, no SDK, no plugin',
  'als-only': 'bare kernel, only the AsyncLocalStorage context manager on (its promise hooks)',
  'plugin-nosdk': 'tracing() on both sides, no SDK registered',
  'ceiling-1pct': 'inline OpenTelemetry calls only, SDK 1 %',
  'plugin-1pct': 'tracing() on both sides, SDK 1 %',
  'ceiling-100': 'inline OpenTelemetry calls only, every call sampled',
  'plugin-100': 'tracing() on both sides, every call sampled',
};
// CEILING_MODES=bare,ceiling-1pct,… runs some of them (bare always: the ratios' base).
if (process.env.CEILING_MODES) {
  const wanted = new Set(['bare', ...process.env.CEILING_MODES.split(',')]);
  for (const mode of Object.keys(MODES)) if (!wanted.has(mode)) delete MODES[mode];
}
const CALLS = Number(process.env.CEILING_CALLS ?? 150_000);
const WARMUP = 20_000;
const CONCURRENCY = 256;
const ROUNDS = Number(process.env.CEILING_ROUNDS ?? 3);

function installSdk(ratio) {
  const { context, trace } = require('@opentelemetry/api');
  const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
  const sdk = require('@opentelemetry/sdk-trace-base');
  const discard = { export: (spans, done) => done({ code: 0 }), shutdown: async () => {} };
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const root = ratio >= 1 ? new sdk.AlwaysOnSampler() : new sdk.TraceIdRatioBasedSampler(ratio);
  trace.setGlobalTracerProvider(new sdk.BasicTracerProvider({
    sampler: new sdk.ParentBasedSampler({ root }),
    spanProcessors: [new sdk.BatchSpanProcessor(discard)],
  }));
}

/** The OpenTelemetry calls a traced call cannot do without, from the kernel's observers: no plugin code. */
function inlineOtel() {
  const { context, trace, ROOT_CONTEXT, SpanKind } = require('@opentelemetry/api');
  const { W3CTraceContextPropagator } = require('@opentelemetry/core');
  const { definePlugin } = require('@trellis/core');
  const propagator = new W3CTraceContextPropagator();
  const tracer = trace.getTracer('ceiling');
  const setter = { set: (carrier, key, value) => carrier.set(key, value) };
  const getter = { get: (carrier, key) => carrier.get(key), keys: (carrier) => [...carrier.keys()] };
  // The start attributes the RPC conventions give both spans (samplers see them), built once.
  const attributes = Object.freeze({ 'rpc.system': 'trellis', 'rpc.service': 'trellis.testing.EchoService', 'rpc.method': 'Echo' });
  const clientOptions = { kind: SpanKind.CLIENT, attributes };
  const serverOptions = { kind: SpanKind.SERVER, attributes };
  return definePlugin({
    meta: { name: 'ceiling', kernel: '^0.1.0' },
    setupClient(ctx) {
      ctx.observe({
        callStart(inv) {
          const parent = context.active();
          const span = tracer.startSpan('trellis.testing.EchoService/Echo', clientOptions, parent);
          propagator.inject(trace.setSpan(parent, span), inv.metadata, setter);
          return span;
        },
        callEnd(_end, span) {
          span?.end();
        },
      });
    },
    setupServer(ctx) {
      ctx.observe({
        callStart(call) {
          const parent = propagator.extract(ROOT_CONTEXT, call.metadata, getter);
          const span = tracer.startSpan('trellis.testing.EchoService/Echo', serverOptions, parent);
          return { span, context: trace.setSpan(parent, span) };
        },
        enter(state, rest, call) {
          return context.with(state.context, rest, undefined, call);
        },
        callEnd(_end, state) {
          state?.span.end();
        },
      });
    },
  });
}

async function measure(mode) {
  const { RpcClient, RpcServer } = require('@trellis/core');
  const { createEchoHandlers, loadEchoService } = require('@trellis/testkit');
  const { tracing } = require('../dist/index.js');
  if (mode === 'als-only') {
    const { context, ROOT_CONTEXT } = require('@opentelemetry/api');
    const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    // Node 20 turns AsyncLocalStorage's promise hooks on at the first run and never off.
    context.with(ROOT_CONTEXT.setValue(Symbol('enabled'), true), () => undefined);
  }
  if (mode.endsWith('-1pct')) installSdk(0.01);
  if (mode.endsWith('-100')) installSdk(1);
  const plugins = () => (mode.startsWith('plugin') ? [tracing()] : mode.startsWith('ceiling') ? [inlineOtel()] : []);
  const server = new RpcServer({ host: '127.0.0.1', plugins: plugins() });
  server.addService(loadEchoService(), createEchoHandlers({ servedBy: 'bench' }));
  await server.start();
  const client = new RpcClient({ service: loadEchoService(), addresses: [`127.0.0.1:${server.port}`], plugins: plugins() });
  const request = { message: 'hello world', id: '1234567890123', values: [1, 2, 3] };
  const run = (calls) => callsInFlight(calls, CONCURRENCY, () => client.invoke('Echo', request));
  await run(WARMUP);
  const cpu = process.cpuUsage();
  await run(CALLS);
  const used = process.cpuUsage(cpu);
  await client.close();
  await server.close({ graceMs: 1000 });
  return { cpuNs: ((used.user + used.system) * 1000) / CALLS };
}

async function main() {
  if (process.argv[2]) {
    process.send(await measure(process.argv[2]));
    return;
  }
  const results = await interleavedModeRounds(__filename, Object.keys(MODES), ROUNDS);
  const { median } = require('@trellis/core/toolkit');
  const bare = median(results.bare.map((r) => r.cpuNs));
  console.log(`${CALLS} Echo calls per run, ${CONCURRENCY} in flight, both sides in one process, ${ROUNDS} rounds, node ${process.version}; medians`);
  console.log('mode            CPU/call (both sides)   bare ÷ mode (best QPS ratio)   what');
  for (const [mode, what] of Object.entries(MODES)) {
    const cpu = median(results[mode].map((r) => r.cpuNs));
    console.log(`${mode.padEnd(15)} ${(cpu / 1000).toFixed(2).padStart(8)} µs            ${(bare / cpu).toFixed(2).padStart(6)}                        ${what}`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
