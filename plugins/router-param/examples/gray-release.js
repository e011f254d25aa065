'use strict';
// A gray release you can watch: v1 and v2 providers, a routes document that sends listed users and a
// hash slice of everyone else to v2, then a live change of that slice. Everything runs in this
// process on a MemoryRegistry; with etcd or ZooKeeper only the registry line changes.
// Build first: `pnpm exec tsc -p tsconfig.build.json && node examples/gray-release.js`.
const { MemoryRegistry, RpcClient, RpcServer } = require('@trellis/core');
const { createEchoHandlers, loadEchoService } = require('@trellis/testkit');
const { bucketOf, paramRouter } = require('../dist/index.js');

const SERVICE = { group: 'default', name: 'trellis.test.EchoService' };
const routes = (percent) => `
version: gray-${percent}
param:
  - name: gray-listed-users
    match: [{ field: id, op: in, values: [7, 42] }]
    target: { version: v2 }
  - name: gray-${percent}-percent
    match: [{ field: id, op: percent, percent: ${percent} }]
    target: { version: v2 }
  - name: everyone-else
    target: { version: v1 }
`;

async function main() {
  const registry = new MemoryRegistry();
  const service = loadEchoService();
  const servers = [];
  for (const [name, version] of [['v1-a', 'v1'], ['v1-b', 'v1'], ['v2-a', 'v2']]) {
    const server = new RpcServer({ host: '127.0.0.1', registry, tags: { version } });
    server.addService(service, createEchoHandlers({ servedBy: name }));
    await server.start();
    servers.push(server);
  }
  await registry.putConfig(SERVICE, 'routes', routes(10));
  const client = new RpcClient({
    service, registry,
    plugins: [paramRouter({ onUpdate: (u) => console.log(`rules ${u.previousVersion} → ${u.version} (${u.source})`) })],
  });

  const round = async (label) => {
    const byProvider = {};
    const v2Users = new Set();
    for (let user = 1; user <= 1000; user++) {
      const { servedBy } = await client.invoke('Echo', { id: String(user) });
      byProvider[servedBy] = (byProvider[servedBy] ?? 0) + 1;
      if (servedBy.startsWith('v2')) v2Users.add(user);
    }
    console.log(`${label}: 1000 users →`, byProvider, `(v2: ${(v2Users.size / 10).toFixed(1)} %; users 7 and 42 on v2: ${v2Users.has(7) && v2Users.has(42)})`);
    return v2Users;
  };

  const before = await round('10 % slice');
  await registry.putConfig(SERVICE, 'routes', routes(30));
  const after = await round('30 % slice');
  console.log(`every user of the 10 % slice is still on v2: ${[...before].every((u) => after.has(u))}`);
  console.log(`user 1 is in bucket ${bucketOf('1')} of 10000: ${bucketOf('1') < 3000 ? 'v2' : 'v1'}`);
  console.log('publishing a malformed update (op: percentage); it is rejected and reported:');
  await registry.putConfig(SERVICE, 'routes', routes(30).replace('op: percent', 'op: percentage'));
  await new Promise((resolve) => setImmediate(resolve)); // let the process warning print
  await client.close();
  for (const server of servers) await server.close();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
