'use strict';
// CPU of the plugin alone, with a real OpenTelemetry SDK and no transport: one call's client hooks
// (callStart, attemptStart, attemptEnd, callEnd) and its server observer (extract, span, the
// handler run in its context, end), driven directly. Without sockets, the codec and the other
// plugins, this is far less noisy than a loopback run, so it can tell two builds apart on a shared
// machine. Not part of the tests. Build first, then:
//
//   node bench/hooks.js [dist dir] [nosdk|<ratio>] [batch|simple]
//
// e.g. `node bench/hooks.js dist 0.01 batch` (parent-based 1 % sampling, BatchSpanProcessor). The
// figure is the minimum over 40 repetitions of 5,000 calls (a loaded machine only ever adds time),
// minus the same loop without the plugin. Each configuration needs its own process: Node 20's
// AsyncLocalStorage keeps its promise hooks on once they are enabled.
const path = require('node:path');
const api = require('@opentelemetry/api');
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
const sdk = require('@opentelemetry/sdk-trace-base');

const [dir = 'dist', ratio = '0.01', processor = 'batch'] = process.argv.slice(2);
if (ratio !== 'nosdk') {
  api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const discard = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} };
  const root = Number(ratio) >= 1 ? new sdk.AlwaysOnSampler() : new sdk.TraceIdRatioBasedSampler(Number(ratio));
  api.trace.setGlobalTracerProvider(new sdk.BasicTracerProvider({
    sampler: new sdk.ParentBasedSampler({ root }),
    spanProcessors: [processor === 'simple' ? new sdk.SimpleSpanProcessor(discard) : new sdk.BatchSpanProcessor(discard)],
  }));
}
const { tracing } = require(path.resolve(__dirname, '..', dir, 'index.js'));

// The plugin set up on a stand-in of the kernel's plugin contexts: only what tracing() calls.
const plugin = tracing();
let observer;
let serverObserver;
plugin.setupClient({ side: 'client', observe: (o) => { observer = o; }, addInspector: () => {} });
plugin.setupServer({ side: 'server', observe: (o) => { serverObserver = o; }, onListening: () => {} });

const { method, endpoint, peer, signal, handler, tracedCall } = require('./stand-in-call.js');
const oneCall = tracedCall({ observer, serverObserver });
const CALLS = 5000;

async function withPlugin() {
  for (let i = 0; i < CALLS; i++) await oneCall();
}

async function without() {
  for (let i = 0; i < CALLS; i++) {
    const inv = { method, metadata: new Map(), attempt: 1 };
    const attempt = { invocation: inv, endpoint, send: 1, startedAt: 0, code: 0, error: undefined, latencyMs: 0.3 };
    await handler({ method, metadata: inv.metadata, attempt: attempt.send, peer, signal });
  }
}

async function cpuPerCall(fn) {
  const before = process.cpuUsage();
  await fn();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / CALLS;
}

(async () => {
  let plugin = Infinity;
  let loop = Infinity;
  for (let round = 0; round < 40; round++) {
    loop = Math.min(loop, await cpuPerCall(without));
    plugin = Math.min(plugin, await cpuPerCall(withPlugin));
  }
  console.log(`${dir} ${ratio === 'nosdk' ? 'no SDK' : `SDK ratio ${ratio}, ${processor}`}: ${(plugin - loop).toFixed(2)} µs per call, ` +
    `client hooks + server observer (the loop alone: ${loop.toFixed(2)} µs)`);
})();
