'use strict';
// What parameter routing costs per call. Not part of the tests.
// Build first: `pnpm exec tsc -p tsconfig.build.json && node bench/per-call.js`.
//  1. route() alone, in a tight loop, for typical rule sets (ns per call of the router itself);
//  2. whole calls in-process over loopback (EchoService, 3 providers, 64 calls in flight), with the
//     plugin and without, alternated, median of the rounds.
const { MemoryRegistry, RpcClient, RpcServer } = require('@trellis/core');
const { median } = require('@trellis/core/toolkit');
const { RuleSet, loadStartupRules } = require('@trellis/rules');
const { createEchoHandlers, loadEchoService } = require('@trellis/testkit');
const { PARAM_RULES, ParamRouter, paramRouter } = require('../dist/index.js');

const GRAY = [
  { name: 'gray-listed', match: [{ field: 'id', op: 'in', values: ['7', '42', '114', '188'] }], target: { version: 'v2' } },
  { name: 'gray-10-percent', match: [{ field: 'id', op: 'percent', percent: 10 }], target: { version: 'v2' } },
  { name: 'everyone-else', target: { version: 'v1' } },
];
const SETS = {
  'no rules': [],
  'gray (in, percent, catch-all)': GRAY,
  'header lane (equals)': [{ name: 'lane', match: [{ header: 'x-lane', op: 'equals', value: 'gray' }], target: { version: 'v2' } }],
  'regex on a field': [{ name: 'tier', match: [{ field: 'message', op: 'regex', pattern: '^(gold|platinum)-\\d+$' }], target: { version: 'v2' } }],
};

function micro() {
  const list = Object.freeze([
    { id: 'a:1', host: '127.0.0.1', port: 1, weight: 100, version: '1.0.0', tags: { version: 'v1' } },
    { id: 'b:1', host: '127.0.0.1', port: 2, weight: 100, version: '1.0.0', tags: { version: 'v1' } },
    { id: 'c:1', host: '127.0.0.1', port: 3, weight: 100, version: '1.0.0', tags: { version: 'v2' } },
  ]);
  // 1000 users, each a call as the router sees it.
  const calls = Array.from({ length: 1000 }, (_, i) => ({
    request: { id: String(i + 1), message: i % 3 === 0 ? `gold-${i}` : `silver-${i}` },
    metadata: new Map(i % 4 === 0 ? [['x-lane', 'gray']] : []),
  }));
  const N = 2_000_000;
  console.log('route() alone, 3 endpoints, 1000 distinct users:');
  for (const [label, rules] of Object.entries(SETS)) {
    const router = new ParamRouter(new RuleSet(loadStartupRules('bench', PARAM_RULES, { rules }, 'routes')));
    let sink = 0;
    for (let i = 0; i < 300_000; i++) sink += router.route(list, calls[i % 1000]).length;
    const rounds = [];
    for (let r = 0; r < 5; r++) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < N; i++) sink += router.route(list, calls[i % 1000]).length;
      rounds.push(Number(process.hrtime.bigint() - start) / N);
    }
    console.log(`  ${label.padEnd(32)} ${median(rounds).toFixed(0).padStart(5)} ns/route   (sink ${sink % 10})`);
  }
}

async function endToEnd() {
  const registry = new MemoryRegistry();
  const service = loadEchoService();
  const servers = [];
  for (const [name, version] of [['v1-a', 'v1'], ['v1-b', 'v1'], ['v2-a', 'v2']]) {
    const server = new RpcServer({ host: '127.0.0.1', registry, tags: { version } });
    server.addService(service, createEchoHandlers({ servedBy: name }));
    await server.start();
    servers.push(server);
  }
  const clients = {
    without: new RpcClient({ service, registry }),
    with: new RpcClient({ service, registry, plugins: [paramRouter({ rules: GRAY })] }),
  };
  const CALLS = 200_000;
  const IN_FLIGHT = 64;
  const run = async (client) => {
    let next = 0;
    const worker = async () => {
      while (next < CALLS) {
        const i = next++;
        await client.invoke('Echo', { id: String(i % 1000), message: 'hello' });
      }
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
  console.log(`  without router-param            ${a.toFixed(0).padStart(6)} ns/call`);
  console.log(`  with the gray rules             ${b.toFixed(0).padStart(6)} ns/call   (difference ${(b - a).toFixed(0)} ns, within noise when |difference| is below the spread)`);
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
