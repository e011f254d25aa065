'use strict';
// One call as the kernel drives the tracing plugin, without sockets or codec: the client hooks
// (callStart, attemptStart, attemptEnd, callEnd) around the server observer (callStart, enter
// around a handler that answers at once, callEnd when it did: the kernel's order). bench/hooks.js and bench/parts.js time it; `bareCall` is the same loop body
// without the plugin, subtracted from their figures.
const method = { service: 'bench.BenchService', name: 'Echo', kind: 'unary' };
const endpoint = { host: '127.0.0.1', port: 4000, id: '127.0.0.1:4000' };
const peer = { host: '127.0.0.1', port: 50000 };
const signal = new globalThis.AbortController().signal;
const handler = (inv) => Promise.resolve(inv);

/** `{ observer, serverObserver }`: what the plugin registered on its client and server contexts. */
function tracedCall({ observer, serverObserver }) {
  const traced = (call) => {
    const state = serverObserver.callStart(call, 0);
    const result = state !== undefined && serverObserver.enter !== undefined ? serverObserver.enter(state, handler, call) : handler(call);
    return result.then((response) => {
      serverObserver.callEnd({ invocation: call, code: 0, error: undefined, startedAt: 0, latencyMs: 0.2 }, state);
      return response;
    });
  };
  return async () => {
    const inv = { method, metadata: new Map(), attempt: 1 };
    const call = observer.callStart(inv);
    const attempt = { invocation: inv, endpoint, send: 1, startedAt: 0, code: 0, error: undefined, latencyMs: 0.3 };
    observer.attemptStart(attempt, call);
    await traced({ method, metadata: inv.metadata, attempt: 1, peer, signal });
    observer.attemptEnd(attempt, call);
    observer.callEnd({ invocation: inv, code: 0, error: undefined, endpoint, latencyMs: 0.4 }, call);
  };
}

async function bareCall() {
  await handler({ method, metadata: new Map(), attempt: 1, peer, signal });
}

module.exports = { method, endpoint, peer, signal, handler, tracedCall, bareCall };
