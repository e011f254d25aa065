import * as path from 'node:path';
import t from 'tap';
import { RpcClient, type TrellisError } from '@trellis/core';
import { etcdRegistry } from '@trellis/discovery-etcd';
import { zookeeperRegistry } from '@trellis/discovery-zk';
import type { RulesUpdate } from '@trellis/rules';
import { loadEchoService, startEtcd, startProvider, startZooKeeper, waitFor } from '@trellis/testkit';
import { bucketOf, paramRouter } from '../src/index.js';

/**
 * A gray release end to end, once on a real etcd and once on a real ZooKeeper: real providers in
 * child processes register there with their version tags; a consumer discovers them there and
 * follows the `routes` document there too.
 */
/** Users listed by id; each hashes above 50 %, so only the list can send them to v2. */
const LISTED = ['7', '42', '114', '188'];
const USERS = Array.from({ length: 2000 }, (_, i) => String(i + 1));
const QUERY = { group: 'default', name: 'trellis.test.EchoService' };

function routes(version: string, percent: number): string {
  return `
version: ${version}
param:
  - name: gray-listed-users
    match:
      - { field: id, op: in, values: [${LISTED.join(', ')}] }
    target: { version: v2 }
  - name: gray-${percent}-percent
    match:
      - { field: id, op: percent, percent: ${percent} }
    target: { version: v2 }
  - name: everyone-else
    target: { version: v1 }
`;
}

/** A registry server for the test, and how the consumer, the admin and the providers reach it. */
interface Backend {
  readonly name: string;
  start(t: { teardown(fn: () => unknown): void }): Promise<{
    create(): ReturnType<typeof etcdRegistry> | ReturnType<typeof zookeeperRegistry>;
    /** For startProvider: the module and export the child process loads, with its options. */
    ref: { module: string; export: string; options: object; from: string };
  }>;
}

const from = path.join(__dirname, '..');
const BACKENDS: Backend[] = [
  {
    name: 'etcd',
    async start(t) {
      const etcd = await startEtcd();
      t.teardown(() => etcd.stop());
      const options = { endpoints: etcd.endpoints, snapshotDir: false as const };
      return { create: () => etcdRegistry(options), ref: { module: '@trellis/discovery-etcd', export: 'etcdRegistry', options, from } };
    },
  },
  {
    name: 'ZooKeeper',
    async start(t) {
      const zk = await startZooKeeper();
      t.teardown(() => zk.stop());
      const options = { connectString: zk.connectString, snapshotDir: false as const };
      return { create: () => zookeeperRegistry(options), ref: { module: '@trellis/discovery-zk', export: 'zookeeperRegistry', options, from } };
    },
  },
];

for (const backend of BACKENDS) {
  t.test(`gray release on ${backend.name}: listed users and a stable 10 % slice go to v2, live changes apply, bad ones do not`, async (t) => {
    const server = await backend.start(t);
    const registryRef = server.ref;
    const admin = server.create();
    t.teardown(() => admin.close());
    await admin.putConfig(QUERY, 'routes', routes('1', 10));

    const providers = await Promise.all([
      startProvider({ name: 'v1-a', tags: { version: 'v1' }, registry: registryRef }),
      startProvider({ name: 'v1-b', tags: { version: 'v1' }, registry: registryRef }),
      startProvider({ name: 'v2-a', tags: { version: 'v2' }, registry: registryRef }),
    ]);
    t.teardown(() => Promise.all(providers.map((p) => p.kill())));

    const updates: RulesUpdate[] = [];
    const errors: TrellisError[] = [];
    let wake: () => void = () => undefined;
    const nextEvent = () => new Promise<void>((resolve) => (wake = resolve));
    const consumerRegistry = server.create();
    const client = new RpcClient({
      service: loadEchoService(),
      registry: consumerRegistry,
      plugins: [paramRouter({ onUpdate: (u) => (updates.push(u), wake()), onError: (e) => (errors.push(e), wake()) })],
    });
    t.teardown(async () => { await client.close(); await consumerRegistry.close(); });
    await client.start();
    await waitFor(() => client.endpoints.length === 3, { timeoutMs: 15_000, what: `three providers discovered through ${backend.name}` });

    /** Which provider serves each user, calling every user `rounds` times, 100 calls at a time. */
    const serve = async (users: readonly string[], rounds: number) => {
      const seen = new Map<string, Set<string>>();
      const calls = users.flatMap((id) => Array<string>(rounds).fill(id));
      for (let i = 0; i < calls.length; i += 100) {
        await Promise.all(calls.slice(i, i + 100).map(async (id) => {
          const reply = (await client.invoke('Echo', { id })) as { servedBy: string };
          let set = seen.get(id);
          if (set === undefined) seen.set(id, (set = new Set()));
          set.add(reply.servedBy);
        }));
      }
      return seen;
    };
    const side = (servers: Set<string>) => (servers.size === 1 && servers.has('v2-a') ? 'v2' : [...servers].every((s) => s.startsWith('v1-')) ? 'v1' : 'mixed');

    // --- version 1: listed users + 10 % by hash of the id -------------------------------------------
    t.ok(LISTED.every((id) => bucketOf(id) >= 5000), 'the listed users would be on v1 by hash alone');
    const first = await serve(USERS, 2);
    t.equal(updates[0]?.version, '1', 'the first calls already routed with the live document');
    const v2Users = USERS.filter((id) => side(first.get(id)!) === 'v2');
    const expected = USERS.filter((id) => LISTED.includes(id) || bucketOf(id) < 1000);
    t.same(v2Users, expected, 'exactly the listed users and those hashing below 10 % went to v2');
    t.same(USERS.filter((id) => side(first.get(id)!) === 'mixed'), [], 'every user stayed on one side across calls');
    const hashed = v2Users.filter((id) => !LISTED.includes(id)).length;
    t.ok(hashed >= 160 && hashed <= 240, `about 10 % of the unlisted users by hash: ${hashed} of ${USERS.length - LISTED.length}`);
    t.ok(LISTED.every((id) => first.get(id)!.has('v2-a')), 'listed users always on v2');
    const [a, b, v2] = await Promise.all(providers.map((p) => p.stats()));
    t.equal(v2!.calls, 2 * v2Users.length, 'v2 got exactly the slice');
    t.equal(a!.calls + b!.calls, 2 * (USERS.length - v2Users.length), 'v1 got everyone else');
    t.ok(a!.calls > 0 && b!.calls > 0, 'balanced across both v1 providers');

    // --- version 2 through the registry: the slice grows to 30 % within a second -------------------
    const growing = USERS.filter((id) => !LISTED.includes(id) && bucketOf(id) >= 1000 && bucketOf(id) < 3000);
    const applied = nextEvent();
    const put = performance.now();
    await admin.putConfig(QUERY, 'routes', routes('2', 30));
    await applied;
    const elapsed = performance.now() - put;
    t.equal(updates.at(-1)?.version, '2');
    // The update is awaited as an event; the spec's "within a second" is a few ms on an idle machine
    // (the figure is printed), but a loaded CI machine can stall the registry server or this process
    // for a second. 10 s still rules out an update that is only picked up by a re-list, a reconnect
    // or a session timeout (tens of seconds), and a document applied only by a restart (never).
    t.ok(elapsed < 10_000, `the update was in force ${elapsed.toFixed(0)} ms after the write (spec: within a second on an idle machine)`);
    const second = await serve(growing, 1);
    t.ok(growing.every((id) => side(second.get(id)!) === 'v2'), `the ${growing.length} users between 10 % and 30 % moved to v2 on their next call`);
    const stayed = await serve(v2Users, 1);
    t.ok(v2Users.every((id) => side(stayed.get(id)!) === 'v2'), 'the first 10 % stayed on v2 (slices nest)');

    // --- a malformed update is rejected and reported; the old rules stay ---------------------------
    const rejected = nextEvent();
    await admin.putConfig(QUERY, 'routes', routes('3', 50).replace('op: percent', 'op: percentage'));
    await rejected;
    t.equal(errors.length, 1);
    t.equal(errors[0]!.code, 'ERR_INVALID_RULES');
    t.match(errors[0]!.message, /rule "gray-50-percent" field "match\[0\]\.op": expected one of equals, not-equals, in, not-in, prefix, regex, range, percent, got "percentage"/);
    const broken = nextEvent();
    await admin.putConfig(QUERY, 'routes', 'version: 4\nparam: [ { name: x');
    await broken;
    t.match(errors[1]!.message, /document: is not valid YAML/);
    const outside = USERS.filter((id) => bucketOf(id) >= 3000 && bucketOf(id) < 5000 && !LISTED.includes(id)).slice(0, 50);
    const unchanged = await serve([...growing.slice(0, 50), ...outside], 1);
    t.ok(growing.slice(0, 50).every((id) => side(unchanged.get(id)!) === 'v2'), 'version 2 is still in force: 10–30 % on v2');
    t.ok(outside.every((id) => side(unchanged.get(id)!) === 'v1'), 'and 30–50 % (what the rejected version would have moved) on v1');
    t.equal(updates.at(-1)?.version, '2');
    t.same(providers.flatMap((p) => p.errors), [], 'no provider reported a problem');
  });
}
