'use strict';
// What a call costs the plugin, step by step, with a real SDK: each OpenTelemetry call the plugin
// makes per call, timed on its own (CPU time, minimum over repetitions: a loaded machine only ever
// adds time); the plugin whole (its client hooks and server observer, driven as bench/hooks.js
// does) against the same OpenTelemetry calls written inline, unsampled and sampled — the difference
// is the plugin's own code; and the AsyncLocalStorage context manager's promise hooks per promise
// (a child process without them, one with them). Not part of the tests. Build first, then
// `node bench/parts.js` (PARTS_DIST=<dir> measures another build of the plugin).
//
// Set-up as apps/bench's (src/kinds/tracing-sdk.ts): the AsyncLocalStorage context manager,
// ParentBased(TraceIdRatioBased 1 %), a BatchSpanProcessor in front of an exporter that drops spans.
const { execFileSync } = require('node:child_process');
const api = require('@opentelemetry/api');

const REPS = 30;
const N = 20_000;

/** CPU (user + system, not wall: the machine is shared) in ns per operation, over N operations. */
function cpuNs(before) {
  const used = process.cpuUsage(before);
  return ((used.user + used.system) * 1000) / N;
}

/** ns per operation: the minimum over REPS runs of N operations. */
function time(fn) {
  let best = Infinity;
  for (let r = 0; r < REPS; r++) {
    const before = process.cpuUsage();
    for (let i = 0; i < N; i++) fn(i);
    best = Math.min(best, cpuNs(before));
  }
  return best;
}

async function timeAsync(fn) {
  let best = Infinity;
  for (let r = 0; r < REPS; r++) {
    const before = process.cpuUsage();
    for (let i = 0; i < N; i++) await fn();
    best = Math.min(best, cpuNs(before));
  }
  return best;
}

async function promiseChild() {
  if (process.argv[3] === 'hooks') {
    const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
    api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    api.context.with(api.ROOT_CONTEXT.setValue(Symbol('on'), true), () => {});
  }
  // One await of an already-resolved promise from an async function: two promises (the function's
  // and the awaited one) and one microtask turn.
  const step = async () => { await Promise.resolve(); };
  const ns = await timeAsync(step);
  process.stdout.write(String(ns));
}

async function main() {
  if (process.argv[2] === '--promises') return promiseChild();
  const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
  const sdk = require('@opentelemetry/sdk-trace-base');
  const { W3CTraceContextPropagator, W3CBaggagePropagator, CompositePropagator } = require('@opentelemetry/core');
  api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const discard = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} };
  const provider = new sdk.BasicTracerProvider({
    sampler: new sdk.ParentBasedSampler({ root: new sdk.TraceIdRatioBasedSampler(0.01) }),
    spanProcessors: [new sdk.BatchSpanProcessor(discard)],
  });
  api.trace.setGlobalTracerProvider(provider);
  const tracer = api.trace.getTracer('@trellis/tracing', '0.1.0');
  const w3c = new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] });
  const setter = { set: (c, k, v) => c.set(k.toLowerCase(), v) };
  const getter = { get: (c, k) => c.get(k.toLowerCase()), keys: (c) => [...c.keys()] };
  const attributes = Object.freeze({ 'rpc.system': 'trellis', 'rpc.service': 'bench.BenchService', 'rpc.method': 'Echo' });
  const clientOptions = { kind: api.SpanKind.CLIENT, attributes };
  const serverOptions = { kind: api.SpanKind.SERVER, attributes };
  const name = 'bench.BenchService/Echo';
  const end = (span) => { if (span.isRecording()) span.end(); };

  const root = api.ROOT_CONTEXT;
  const unsampled = tracer.startSpan(name, clientOptions, root);
  const withSpan = api.trace.setSpan(root, api.trace.wrapSpanContext({ ...unsampled.spanContext(), traceFlags: 0 }));
  const carrier = new Map();
  w3c.inject(withSpan, carrier, setter);
  const incoming = new Map(carrier);
  const extracted = w3c.extract(root, incoming, getter);
  const serverSpan = tracer.startSpan(name, serverOptions, extracted);
  const serverCtx = api.trace.setSpan(extracted, serverSpan);
  const fn = () => 1;
  const ids = new sdk.RandomIdGenerator();

  const rows = [
    ['client', 'context.active()', time(() => api.context.active())],
    ['client', 'root startSpan, 1 % ratio sampler (ids, sampler, metrics, start attributes)', time(() => end(tracer.startSpan(name, clientOptions, root)))],
    ['client', '  of which the two random ids (RandomIdGenerator)', time(() => { ids.generateTraceId(); ids.generateSpanId(); })],
    ['client', 'trace.setSpan (a context holding the span)', time(() => api.trace.setSpan(root, unsampled))],
    ['client', 'W3C trace context + baggage inject (traceparent written)', time(() => w3c.inject(withSpan, new Map(), setter))],
    ['server', 'W3C trace context + baggage extract (traceparent parsed)', time(() => w3c.extract(root, incoming, getter))],
    ['server', 'child startSpan of an unsampled remote parent', time(() => end(tracer.startSpan(name, serverOptions, extracted)))],
    ['server', 'trace.setSpan', time(() => api.trace.setSpan(extracted, serverSpan))],
    ['server', 'context.with (AsyncLocalStorage run)', time(() => api.context.with(serverCtx, fn))],
  ];
  // Every call sampled: the SDK calls the plugin makes for one sampled call, per side, as one block.
  const always = new sdk.BasicTracerProvider({
    sampler: new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() }),
    spanProcessors: [new sdk.BatchSpanProcessor(discard)],
  });
  const tracer100 = always.getTracer('@trellis/tracing', '0.1.0');
  const sampledIncoming = new Map();
  w3c.inject(api.trace.setSpan(root, tracer100.startSpan(name, clientOptions, root)), sampledIncoming, setter);
  const event = (i) => ({
    'trellis.attempt.index': 1, 'trellis.attempt': 1, 'trellis.attempt.transparent': false, 'server.address': '127.0.0.1',
    'server.port': 4000, 'rpc.trellis.status_code': 0, 'trellis.attempt.duration_ms': i * 1e-3,
  });
  rows.push(
    ['client', 'SAMPLED: startSpan, setSpan, inject, addEvent (7 attributes), 4 setAttribute, end', time((i) => {
      const span = tracer100.startSpan(name, clientOptions, root);
      w3c.inject(api.trace.setSpan(root, span), new Map(), setter);
      span.addEvent('trellis.attempt', event(i));
      span.setAttribute('trellis.attempts', 1);
      span.setAttribute('server.address', '127.0.0.1');
      span.setAttribute('server.port', 4000);
      span.setAttribute('rpc.trellis.status_code', 0);
      span.end();
    })],
    ['server', 'SAMPLED: extract, startSpan, 5 setAttribute, setSpan, context.with, setAttribute, end', time(() => {
      const parent = w3c.extract(root, sampledIncoming, getter);
      const span = tracer100.startSpan(name, serverOptions, parent);
      span.setAttribute('network.peer.address', '127.0.0.1');
      span.setAttribute('network.peer.port', 50000);
      span.setAttribute('server.port', 4000);
      span.setAttribute('trellis.attempt', 1);
      span.setAttribute('trellis.caller', 'bench');
      api.context.with(api.trace.setSpan(parent, span), fn);
      span.setAttribute('rpc.trellis.status_code', 0);
      span.end();
    })],
  );
  // The plugin as a whole (its client hooks and server observer, as bench/hooks.js drives them)
  // against the same OpenTelemetry calls written inline, each call awaiting a handler: the
  // difference is the plugin's own code.
  const { tracing } = require(require('node:path').resolve(__dirname, '..', process.env.PARTS_DIST ?? 'dist', 'index.js'));
  const setUp = (options) => {
    const hooks = {};
    const plugin = tracing(options);
    plugin.setupClient({ side: 'client', observe: (o) => { hooks.observer = o; }, addInspector: () => {} });
    plugin.setupServer({ side: 'server', observe: (o) => { hooks.serverObserver = o; }, onListening: (f) => f({ port: 4000 }) });
    return hooks;
  };
  const { method, peer, signal, handler, tracedCall: whole, bareCall: bare } = require('./stand-in-call.js');
  const inline = async () => {
    const metadata = new Map();
    const parent = api.context.active();
    const span = tracer.startSpan(name, clientOptions, parent);
    w3c.inject(api.trace.setSpan(parent, span), metadata, setter);
    const remote = w3c.extract(root, metadata, getter);
    const child = tracer.startSpan(name, serverOptions, remote);
    await api.context.with(api.trace.setSpan(remote, child), handler, undefined, { method, metadata, attempt: 1, peer, signal });
    if (child.isRecording()) child.end();
    if (span.isRecording()) span.end();
  };
  // What the plugin records for a sampled call, written inline.
  const inlineSampled = async () => {
    const metadata = new Map();
    const parent = api.context.active();
    const span = tracer100.startSpan(name, clientOptions, parent);
    w3c.inject(api.trace.setSpan(parent, span), metadata, setter);
    const remote = w3c.extract(root, metadata, getter);
    const child = tracer100.startSpan(name, serverOptions, remote);
    child.setAttribute('network.peer.address', '127.0.0.1');
    child.setAttribute('network.peer.port', 50000);
    child.setAttribute('server.port', 4000);
    child.setAttribute('trellis.attempt', 1);
    await api.context.with(api.trace.setSpan(remote, child), handler, undefined, { method, metadata, attempt: 1, peer, signal });
    child.setAttribute('rpc.trellis.status_code', 0);
    child.end();
    span.addEvent('trellis.attempt', event(1));
    span.setAttribute('trellis.attempts', 1);
    span.setAttribute('server.address', '127.0.0.1');
    span.setAttribute('server.port', 4000);
    span.setAttribute('rpc.trellis.status_code', 0);
    span.end();
  };
  const loop = await timeAsync(bare);
  rows.push(
    ['both', 'UNSAMPLED (1 %): the plugin whole, client hooks + server observer, minus the bare loop', (await timeAsync(whole(setUp()))) - loop],
    ['both', 'UNSAMPLED (1 %): the same OpenTelemetry calls inline, minus the bare loop', (await timeAsync(inline)) - loop],
    ['both', 'SAMPLED: the plugin whole, minus the bare loop', (await timeAsync(whole(setUp({ tracerProvider: always })))) - loop],
    ['both', 'SAMPLED: the same OpenTelemetry calls inline, minus the bare loop', (await timeAsync(inlineSampled)) - loop],
  );
  const child = (mode) => Number(execFileSync(process.execPath, [__filename, '--promises', mode], { encoding: 'utf8' }));
  const off = child('off');
  const on = child('hooks');
  console.log(`node ${process.version}, minimum of ${REPS} × ${N} operations each, ns per operation`);
  for (const [side, what, ns] of rows) console.log(`${side.padEnd(7)} ${ns.toFixed(0).padStart(6)} ns  ${what}`);
  console.log(`promise  ${off.toFixed(0).padStart(5)} ns  async function awaiting a resolved promise (2 promises, 1 turn), no hooks`);
  console.log(`promise  ${on.toFixed(0).padStart(5)} ns  the same with the AsyncLocalStorage context manager's promise hooks on: +${((on - off) / 2).toFixed(0)} ns per promise`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
