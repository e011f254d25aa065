'use strict';
// Preloaded (`node --require`) into apps/bench's worker processes by bench/ab.js, to make one
// variant of a scenario without changing apps/bench:
//   TRACING_AB_DIST=<dir>  `require('@trellis/tracing')` loads <dir>/index.js (another build, e.g.
//                          the previous commit's `tsc --outDir dist-old`), for a before/after.
//   TRACING_AB_ALS=1       the AsyncLocalStorage context manager registered and entered once, with
//                          no SDK: what the context manager's promise hooks cost on their own.
//   TRACING_AB_PAD=<n>     (with no SDK) a global propagator that writes one `x-ab-pad` entry of n
//                          characters into every request and reads nothing: what a traceparent's
//                          extra bytes cost the transport, without any OpenTelemetry work.
const Module = require('node:module');
const path = require('node:path');

const dist = process.env.TRACING_AB_DIST;
if (dist) {
  const target = path.resolve(dist, 'index.js');
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function (request, ...rest) {
    return request === '@trellis/tracing' ? target : resolve.call(this, request, ...rest);
  };
}

function api() {
  // The workers' own copy of the API (apps/bench's), so the global it registers is the one they use.
  const bench = path.dirname(require.main?.filename ?? process.argv[1]);
  return require(require.resolve('@opentelemetry/api', { paths: [bench] }));
}

if (process.env.TRACING_AB_ALS === '1') {
  const bench = path.dirname(process.argv[1]);
  const { AsyncLocalStorageContextManager } = require(require.resolve('@opentelemetry/context-async-hooks', { paths: [bench] }));
  const { context, ROOT_CONTEXT } = api();
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  context.with(ROOT_CONTEXT.setValue(Symbol('ab'), true), () => {});
}

const pad = Number(process.env.TRACING_AB_PAD ?? 0);
if (pad > 0) {
  const value = 'p'.repeat(pad);
  api().propagation.setGlobalPropagator({
    inject(_context, carrier, setter) { setter.set(carrier, 'x-ab-pad', value); },
    extract(context) { return context; },
    fields() { return ['x-ab-pad']; },
  });
}

// TRACING_AB_FLUSH=fullread|immediate: an experiment on the kernel's transport, not a change to it.
// Its WriteBatcher flushes a tick's frames on process.nextTick. When a batch of requests is larger
// than one socket read (Node reads at most 64 KiB at a time), libuv hands the reads over one after
// the other in the same poll phase, the nextTick queue runs after each, and the answers of one batch
// leave in two writes. `fullread` flushes on setImmediate instead (after the poll phase) when the
// socket's last read filled 64 KiB, so more was waiting; `immediate` always does.
const flush = process.env.TRACING_AB_FLUSH;
if (flush === 'fullread' || flush === 'immediate') {
  const net = require('node:net');
  const lastRead = Symbol('lastRead');
  const push = net.Socket.prototype.push;
  net.Socket.prototype.push = function (chunk, encoding) {
    if (chunk) this[lastRead] = chunk.length;
    return push.call(this, chunk, encoding);
  };
  const bench = path.dirname(process.argv[1]);
  const core = path.dirname(require.resolve('@trellis/core/package.json', { paths: [bench] }));
  const { WriteBatcher } = require(path.join(core, 'dist', 'transport', 'write-batcher.js'));
  for (const method of ['write', 'reserve']) {
    const original = WriteBatcher.prototype[method];
    WriteBatcher.prototype[method] = function (...args) {
      if (!this.scheduled && (flush === 'immediate' || this.socket[lastRead] >= 65536)) {
        this.scheduled = true;
        setImmediate(this.flushBound);
      }
      return original.apply(this, args);
    };
  }
}
