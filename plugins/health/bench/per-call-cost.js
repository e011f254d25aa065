'use strict';
// Per-call cost of @trellis/health on the consumer. Not part of the tests.
// Build first: `pnpm exec tsc -p tsconfig.build.json && node bench/per-call-cost.js`.
//
// Two measurements:
//  1. isolated: what the plugin adds to every call — the availability observer (the kernel's
//     attempt hook) and the warm-up router — called 1,000,000 times around a `next` that resolves
//     at once;
//  2. end to end: 200,000 Echo calls in-process over loopback TCP (64 in flight) to two providers,
//     with and without health() (heartbeats running), median of 9 alternating rounds. Noisy on a
//     shared machine.
const { performance } = require('node:perf_hooks');
const { MemoryRegistry, RpcClient, RpcServer, TcpClientTransport } = require('@trellis/core');
const { median } = require('@trellis/core/toolkit');
const { createEchoHandlers, loadEchoService } = require('@trellis/testkit');
const { health, HealthEvents, HealthMonitor, WarmupRouter, availabilityObserver, resolveHealthOptions } = require('../dist/index.js');

const ECHO = loadEchoService();
const clock = { now: () => performance.now() };

async function isolated() {
  const N = 1_000_000;
  const now = Date.now();
  const endpoint = { id: '127.0.0.1:1', host: '127.0.0.1', port: 1, weight: 100, version: '1.0.0', tags: {}, startedAt: now - 3_600_000 };
  const steady = Object.freeze([endpoint, { ...endpoint, id: '127.0.0.1:2', port: 2 }]);
  const ramping = Object.freeze([endpoint, { ...endpoint, id: '127.0.0.1:3', port: 3, startedAt: now }]);
  const transport = new TcpClientTransport();
  const monitor = new HealthMonitor(transport, resolveHealthOptions({ intervalMs: 3_600_000 }), clock, new HealthEvents(), 'bench', undefined);
  monitor.setEndpoints([endpoint]);
  // refresh: 'expire', as the plugin wires it: the ticks are its dormancy's (not run here), not the router's own timer.
  const router = new WarmupRouter({ warmupMs: 60_000, rampStart: (e) => monitor.rampStart(e), version: () => monitor.version, refresh: 'expire' });
  const result = { response: {}, metadata: new Map(), endpoint };
  const inv = { excluded: new Set(), attempt: 1 };
  const send = () => Promise.resolve(result);
  const observer = availabilityObserver(monitor);
  // The record the kernel hands to attemptEnd (it reuses one per attempt).
  const attempt = { invocation: inv, endpoint, send: 1, startedAt: 0, code: 0, error: undefined, mayHaveRun: true, latencyMs: 1, bytesSent: 0, bytesReceived: 0 };
  // The kernel calls the observer from its own completion path: no promise of the plugin's own.
  const observed = () => (observer.attemptEnd(attempt), send(inv, endpoint));
  const cases = [
    ['no plugin (a resolved promise)', () => send(inv, endpoint)],
    ['availability observer', observed],
    ['observer + warm-up router, steady list', () => (router.route(steady, inv), observed())],
    // The router recomputes ramp weights only when the dormancy's tick marks it stale (every
    // WARMUP_REFRESH_MS, not run here): this case is the cost of a call between two ticks.
    ['observer + warm-up router, one ramping', () => (router.route(ramping, inv), observed())],
  ];
  const rounds = new Map(cases.map(([name]) => [name, []]));
  for (let r = 0; r < 5; r++) {
    for (const [name, fn] of cases) {
      const start = performance.now();
      for (let i = 0; i < N; i++) await fn();
      rounds.get(name).push(((performance.now() - start) * 1e6) / N);
    }
  }
  monitor.close();
  await transport.close();
  console.log(`isolated, ${N.toLocaleString('en')} calls × 5 rounds, median ns per call:`);
  const base = median(rounds.get(cases[0][0]));
  for (const [name, values] of rounds) {
    const m = median(values);
    console.log(`  ${name.padEnd(44)} ${m.toFixed(0).padStart(6)} ns  (+${(m - base).toFixed(0)} ns)`);
  }
}

async function endToEnd() {
  const CALLS = 200_000;
  const INFLIGHT = 64;
  const ROUNDS = 9;
  const registry = new MemoryRegistry();
  const servers = [];
  for (const name of ['p1', 'p2']) {
    const server = new RpcServer({ host: '127.0.0.1', advertiseHost: '127.0.0.1', registry });
    server.addService(ECHO, createEchoHandlers({ servedBy: name }));
    await server.start();
    servers.push(server);
  }
  const run = async (plugins) => {
    const client = new RpcClient({ service: ECHO, registry, loadBalancer: 'random', plugins });
    await client.invoke('Echo', { message: 'warm' });
    let next = 0;
    const worker = async () => {
      while (next < CALLS) {
        next++;
        await client.invoke('Echo', { message: 'hello' });
      }
    };
    const start = performance.now();
    await Promise.all(Array.from({ length: INFLIGHT }, worker));
    const ns = ((performance.now() - start) * 1e6) / CALLS;
    await client.close();
    return ns;
  };
  const cases = [
    ['no plugins', () => run([])],
    ['health() defaults', () => run([health()])],
  ];
  const rounds = new Map(cases.map(([name]) => [name, []]));
  for (let r = 0; r < ROUNDS; r++) for (const [name, fn] of cases) rounds.get(name).push(await fn());
  for (const server of servers) await server.close({ graceMs: 100 });
  console.log(`\nend to end, ${CALLS.toLocaleString('en')} Echo calls over loopback to 2 providers ('random'), ${INFLIGHT} in flight, ${ROUNDS} rounds, median ns per call:`);
  const base = median(rounds.get('no plugins'));
  for (const [name, values] of rounds) {
    const m = median(values);
    console.log(`  ${name.padEnd(44)} ${m.toFixed(0).padStart(6)} ns  (${m >= base ? '+' : ''}${(m - base).toFixed(0)} ns)`);
  }
}

(async () => {
  await isolated();
  await endToEnd();
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
