'use strict';
// Per-call cost of the breaker (client) and the limiter (server). Not part of the tests.
// Build first: `pnpm exec tsc -p tsconfig.build.json && node bench/per-call-cost.js`.
//
// Two measurements:
//  1. isolated: the interceptor, router and call observer the plugins register, called 1,000,000 times around a
//     `next` that resolves at once — the plugin's own cost with nothing else in the way;
//  2. end to end: 200,000 Echo calls in-process over loopback TCP (64 in flight), with and without
//     the plugins — the cost as a share of a real call.
// Both report CPU time (process.cpuUsage: user + system) per call, not wall time: on a shared
// machine other processes' load stretches wall time but not this process's CPU time. Rounds
// alternate between the cases and the median is reported.
const { performance } = require('node:perf_hooks');
const { MemoryRegistry, RpcClient, RpcServer } = require('@trellis/core');
const { median } = require('@trellis/core/toolkit');
const { createEchoHandlers, loadEchoService } = require('@trellis/testkit');
const { breaker, limiter } = require('../dist/index.js');

const ECHO = loadEchoService();
const SERVICE = 'trellis.test.EchoService';
const method = { ...ECHO.methods.Echo, service: SERVICE };
const endpoint = { id: '127.0.0.1:1', host: '127.0.0.1', port: 1, weight: 100, version: '1.0.0', tags: {} };
const LIMITS = { services: { [SERVICE]: { qps: 1e9, burst: 1e9, maxConcurrency: 1e9, methods: { Echo: { qps: 1e9, burst: 1e9 } } } } };

/** CPU nanoseconds this process spent running `fn`. */
async function cpuNs(fn) {
  const before = process.cpuUsage();
  await fn();
  const used = process.cpuUsage(before);
  return (used.user + used.system) * 1000;
}

/**
 * What a plugin registers on a client and has active (`setHookActive`) after its set-up, collected
 * from a minimal context: the breaker's method gate sleeps while every circuit is closed (session 12),
 * and its recorder observer ends the calls instead.
 */
function clientParts(plugin) {
  const parts = { interceptors: [], gates: [], observers: [], routers: [] };
  const dormant = new Set();
  plugin.setupClient({
    side: 'client', clock: { now: () => performance.now() }, registry: new MemoryRegistry(), container: {},
    service: { group: 'default', name: SERVICE, version: '*' },
    // Unary calls only: a stream-only interceptor is not on this path.
    addInterceptor: (i, _order, calls) => calls !== 'streams' && parts.interceptors.push(i),
    // A gate is an observer too (its callStart state reaches beforeCall and callEnd).
    addGate: (g) => (parts.gates.push(g), parts.observers.push(g)),
    observe: (o) => parts.observers.push(o),
    addRouter: (r) => parts.routers.push(r),
    setHookActive: (hook, active) => (active ? dormant.delete(hook) : dormant.add(hook)),
    addInspector() {},
    onEndpoints: () => ({ dispose() {} }),
    onClose() {},
  });
  const awake = (list) => list.filter((hook) => !dormant.has(hook));
  return { interceptors: parts.interceptors, gates: awake(parts.gates), observers: awake(parts.observers), routers: awake(parts.routers) };
}

/**
 * The limiter's server side around a handler that answers at once, as the kernel runs it: since
 * session 11 a server gate (`admit` before the handler, `callEnd` after), no interceptor layer.
 */
function serverGated(plugin, handler) {
  let gate;
  plugin.setupServer({ side: 'server', container: {}, clock: { now: () => performance.now() }, registry: { name: 'none' }, addGate: (g) => (gate = g), addInspector() {}, inspect: () => ({ kernel: {} }), onClose() {} });
  // The kernel's readings (start, latency) exist with or without the limiter: fixed ones here.
  return (call) => {
    const held = gate.admit(call, 0);
    return handler(call).then((result) => {
      gate.callEnd?.({ invocation: call, code: 0, error: undefined, startedAt: 0, latencyMs: 1 }, held);
      return result;
    });
  };
}

async function isolated() {
  const N = 1_000_000;
  const result = { response: {}, metadata: new Map(), endpoint };
  const inv = { service: { group: 'default', name: SERVICE, version: '*' }, method, request: {}, metadata: new Map(), deadline: Infinity, signal: undefined, attempt: 1, excluded: new Set(), context: null };
  const list = Object.freeze([endpoint, { ...endpoint, id: '127.0.0.1:2', port: 2 }]);
  const { interceptors, gates, observers, routers } = clientParts(breaker());
  // The endpoint circuits' observer (attempts) and the method circuits' (calls: `callEnd`; the gate
  // while awake, else the recorder).
  const observer = observers.find((o) => o.attemptEnd !== undefined);
  const callObserver = observers.find((o) => o.callEnd !== undefined);
  // As the kernel does: cluster interceptor → routers → attemptStart → send → attemptEnd (one reused
  // attempt record per attempt; here one for the whole run) → callEnd once the chain settled.
  const attempt = { invocation: inv, endpoint, send: 1, startedAt: 0, code: 0, error: undefined, mayHaveRun: true, latencyMs: 1, bytesSent: 0, bytesReceived: 0 };
  const callEnd = { invocation: inv, code: 0, error: undefined, endpoint, latencyMs: 1, endedAt: 1 };
  let state;
  const ended = (value) => {
    callObserver?.callEnd(callEnd, state); // absent before the method circuit became a call observer
    return value;
  };
  const bottom = (invocation) => {
    attempt.invocation = invocation;
    attempt.endpoint = routers[0].route(list, invocation)[0];
    observer.attemptStart(attempt);
    // The kernel calls attemptEnd from its own completion path: no promise of the plugin's own.
    observer.attemptEnd(attempt);
    return Promise.resolve(result);
  };
  // Session 8: the method circuit is a gate (callStart → beforeCall, no layer); before, an interceptor.
  // Session 12: the gate sleeps while every circuit is closed (as here): neither runs, and the
  // recorder's callEnd (the call observer above) records the call.
  const gate = gates[0];
  const interceptor = interceptors[0];
  const intercepted = gate !== undefined
    ? (invocation) => {
      state = gate.callStart?.(invocation);
      gate.beforeCall(invocation, state);
      return bottom(invocation);
    }
    : interceptor !== undefined ? interceptor(bottom) : bottom;
  // The kernel's own `.then` that reports callEnd exists with or without the breaker (any call
  // observer or interceptor chain has it), so it is not the breaker's: only the callEnd call is.
  const client = (invocation) => intercepted(invocation).then(ended);
  const same = (value) => value;
  const bare = () => Promise.resolve(result).then(same);
  const call = { service: inv.service, method, request: {}, metadata: new Map(), attempt: 1 };
  const server = serverGated(limiter(LIMITS), () => Promise.resolve(result));
  const serverBare = () => Promise.resolve(result);
  const cases = [
    ['client, no plugin (a resolved promise + .then)', () => bare(inv)],
    ['client, breaker: method + router + observer', () => client(inv)],
    ['server, no plugin (a resolved promise)', () => serverBare(call)],
    ['server, limiter: 2 buckets + concurrency', () => server(call)],
  ];
  const rounds = new Map(cases.map(([name]) => [name, []]));
  for (let r = 0; r < 5; r++) {
    for (const [name, fn] of cases) {
      const ns = await cpuNs(async () => {
        for (let i = 0; i < N; i++) await fn();
      });
      rounds.get(name).push(ns / N);
    }
  }
  console.log(`isolated, ${N.toLocaleString('en')} calls × 5 rounds, median CPU ns per call:`);
  for (const [name, values] of rounds) console.log(`  ${name.padEnd(46)} ${median(values).toFixed(0).padStart(6)} ns`);
}

async function endToEnd() {
  const CALLS = 200_000;
  const INFLIGHT = 64;
  const run = async (clientPlugins, serverPlugins) => {
    const registry = new MemoryRegistry();
    const server = new RpcServer({ host: '127.0.0.1', advertiseHost: '127.0.0.1', registry, plugins: serverPlugins });
    server.addService(ECHO, createEchoHandlers({ servedBy: 'p' }));
    await server.start();
    const client = new RpcClient({ service: ECHO, registry, plugins: clientPlugins });
    await client.invoke('Echo', { message: 'warm' });
    let next = 0;
    const worker = async () => {
      while (next < CALLS) {
        next++;
        await client.invoke('Echo', { message: 'hello' });
      }
    };
    // Client and server share this process, so this is the CPU time of both ends of a call.
    const ns = (await cpuNs(() => Promise.all(Array.from({ length: INFLIGHT }, worker)))) / CALLS;
    await client.close();
    await server.close({ graceMs: 100 });
    return ns;
  };
  const cases = [
    ['no plugins', () => run([], [])],
    ['client breaker()', () => run([breaker()], [])],
    ['server limiter(qps + maxConcurrency)', () => run([], [limiter(LIMITS)])],
  ];
  const rounds = new Map(cases.map(([name]) => [name, []]));
  for (let r = 0; r < 5; r++) for (const [name, fn] of cases) rounds.get(name).push(await fn());
  console.log(`\nend to end, ${CALLS.toLocaleString('en')} Echo calls over loopback, ${INFLIGHT} in flight, 5 rounds, median CPU ns per call (client + server):`);
  const base = median(rounds.get('no plugins'));
  for (const [name, values] of rounds) {
    const m = median(values);
    console.log(`  ${name.padEnd(46)} ${m.toFixed(0).padStart(6)} ns  (${m >= base ? '+' : ''}${(m - base).toFixed(0)} ns)`);
  }
}

(async () => {
  console.log(`node ${process.version}`);
  await isolated();
  await endToEnd();
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
