'use strict';
// What IP routing costs per call. Not part of the tests.
// Build first: `pnpm exec tsc -p tsconfig.build.json && node bench/per-call.js`.
//  1. route() alone, in a tight loop (the steady state: the outcome for the list is cached);
//  2. whole calls in-process over loopback (EchoService, 4 providers, 64 calls in flight), with the
//     plugin and without, alternated, median of the rounds.
const { MemoryRegistry, RpcClient, RpcServer } = require('@trellis/core');
const { median } = require('@trellis/core/toolkit');
const { RuleSet, loadStartupRules } = require('@trellis/rules');
const { createEchoHandlers, loadEchoService } = require('@trellis/testkit');
const { IP_RULES, IpRouter, ipRouter } = require('../dist/index.js');

function rulesFor(ports) {
  return [
    { name: 'group-a', from: ['10.1.0.0/16'], to: ports.slice(0, 2).map((p) => `127.0.0.1:${p}`) },
    { name: 'group-b', from: ['10.2.0.0/16'], to: ports.slice(2).map((p) => `127.0.0.1:${p}`) },
  ];
}

function micro() {
  const list = Object.freeze([1, 2, 3, 4].map((port) => ({ id: `127.0.0.1:${port}`, host: '127.0.0.1', port, weight: 100, version: '1.0.0', tags: {} })));
  const N = 5_000_000;
  console.log('route() alone, 4 endpoints:');
  for (const [label, rules] of [['no rules', []], ['two groups, consumer in group A', rulesFor([1, 2, 3, 4])]]) {
    const router = new IpRouter(new RuleSet(loadStartupRules('bench', IP_RULES, { rules }, 'routes')), '10.1.4.20');
    const call = {};
    let sink = 0;
    for (let i = 0; i < 300_000; i++) sink += router.route(list, call).length;
    const rounds = [];
    for (let r = 0; r < 5; r++) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < N; i++) sink += router.route(list, call).length;
      rounds.push(Number(process.hrtime.bigint() - start) / N);
    }
    console.log(`  ${label.padEnd(34)} ${median(rounds).toFixed(1).padStart(6)} ns/route   (sink ${sink % 10})`);
  }
}

async function endToEnd() {
  const registry = new MemoryRegistry();
  const service = loadEchoService();
  const servers = [];
  for (const name of ['a1', 'a2', 'b1', 'b2']) {
    const server = new RpcServer({ host: '127.0.0.1', registry });
    server.addService(service, createEchoHandlers({ servedBy: name }));
    await server.start();
    servers.push(server);
  }
  const rules = rulesFor(servers.map((s) => s.port));
  const clients = {
    without: new RpcClient({ service, registry, localAddress: '10.1.4.20' }),
    with: new RpcClient({ service, registry, localAddress: '10.1.4.20', plugins: [ipRouter({ rules })] }),
  };
  const CALLS = 200_000;
  const IN_FLIGHT = 64;
  const run = async (client) => {
    let next = 0;
    const worker = async () => {
      while (next++ < CALLS) await client.invoke('Echo', { message: 'hello' });
    };
    const start = process.hrtime.bigint();
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    return Number(process.hrtime.bigint() - start) / CALLS;
  };
  await run(clients.without);
  await run(clients.with);
  const results = { without: [], with: [] };
  for (let r = 0; r < 5; r++) {
    results.without.push(await run(clients.without));
    results.with.push(await run(clients.with));
  }
  const a = median(results.without);
  const b = median(results.with);
  console.log(`whole calls, ${CALLS} per round, ${IN_FLIGHT} in flight, loopback, median of 5 alternated rounds:`);
  console.log(`  without router-ip               ${a.toFixed(0).padStart(6)} ns/call`);
  console.log(`  with two group rules            ${b.toFixed(0).padStart(6)} ns/call   (difference ${(b - a).toFixed(0)} ns)`);
  console.log(`  spread of the rounds: without ${Math.min(...results.without).toFixed(0)}–${Math.max(...results.without).toFixed(0)}, with ${Math.min(...results.with).toFixed(0)}–${Math.max(...results.with).toFixed(0)}`);
  await clients.without.close();
  await clients.with.close();
  for (const server of servers) await server.close();
}

micro();
endToEnd().catch((error) => {
  console.error(error);
  process.exit(1);
});
