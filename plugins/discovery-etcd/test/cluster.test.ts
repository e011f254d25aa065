// A 3-member etcd cluster: the leader killed, a member cut off from its peers. The short versions of
// the cluster scenarios in apps/chaos (`pnpm chaos --cluster` runs the long ones, with traffic).
import t from 'tap';
import { startEtcdCluster, type EtcdCluster } from '@trellis/testkit';
import { EtcdCalls, Lists, SERVICE, instance, makeRegistry, waitFor } from './fixtures/helpers.js';

let cluster: EtcdCluster;
t.before(async () => {
  cluster = await startEtcdCluster();
});
t.teardown(() => cluster?.stop());

/** Registries as an application configures them (default pacing), on every member of the cluster. */
const options = { backoff: undefined, ttlSeconds: 4 };

t.test('kill -9 the leader: a provider change made during the election reaches every consumer', async (t) => {
  const provider = makeRegistry(t, cluster.endpoints, { ...options, root: '/c1' });
  const consumers = [0, 1, 2, 3, 4].map(() => makeRegistry(t, cluster.endpoints, { ...options, root: '/c1' }));
  const lists = consumers.map(() => new Lists());
  consumers.forEach((consumer, i) => consumer.subscribe(SERVICE, lists[i]!.listener));
  await provider.register(SERVICE, instance(7001));
  for (const list of lists) await list.until(['127.0.0.1:7001']);
  const seen = lists.map((list) => list.all.length);

  const leader = await cluster.waitForLeader();
  await cluster.kill(leader);
  const registering = provider.register(SERVICE, instance(7002));
  await cluster.waitForNewLeader(leader);
  const leaderUpAt = Date.now();
  await registering;
  const after = await Promise.all(lists.map(async (list) => {
    await list.until(['127.0.0.1:7001', '127.0.0.1:7002'], 15_000);
    return Date.now() - leaderUpAt;
  }));
  t.comment(`the change reached the consumers ${after.map((ms) => `${ms} ms`).join(', ')} after the new leader was up`);
  t.ok(lists.every((list, i) => list.all.slice(seen[i]! - 1).every((l) => l.some((e) => e.port === 7001))), 'no consumer ever lost the provider');
  t.ok(consumers.every((c) => c.endpoint !== cluster.members[leader]!.address), 'no consumer is pinned to the dead member');
  await cluster.start(leader);
  await cluster.waitForAllServing();
});

t.test('a member cut off from its peers: the consumer pinned to it moves and resumes its watch without a read', async (t) => {
  const provider = makeRegistry(t, cluster.endpoints, { ...options, root: '/c2' });
  await provider.register(SERVICE, instance(7101));
  // One consumer on each member (a registry picks its member at random: draw until it is that one).
  const calls = [0, 1, 2].map(() => new EtcdCalls());
  const consumers = [0, 1, 2].map((i) => {
    for (;;) {
      const registry = makeRegistry(t, cluster.endpoints, { ...options, root: '/c2', client: { interceptors: [calls[i]!.interceptor] } });
      if (registry.endpoint === cluster.members[i]!.address) return registry;
      void registry.close();
    }
  });
  const lists = consumers.map(() => new Lists());
  consumers.forEach((consumer, i) => consumer.subscribe(SERVICE, lists[i]!.listener));
  for (const list of lists) await list.until(['127.0.0.1:7101']);
  const victim = 1;
  const reads = calls[victim]!.count('Range');

  cluster.partition(1);
  t.teardown(() => cluster.heal());
  await provider.register(SERVICE, instance(7102));
  await lists[victim]!.until(['127.0.0.1:7101', '127.0.0.1:7102'], 20_000);
  t.not(consumers[victim]!.endpoint, cluster.members[1]!.address, 'it moved to another member');
  t.equal(calls[victim]!.count('Range'), reads, 'its watch resumed from its revision: no read');
  for (const list of lists) await list.until(['127.0.0.1:7101', '127.0.0.1:7102'], 20_000);
  t.ok(lists.every((list) => list.all.every((l) => l.some((e) => e.port === 7101))), 'no consumer ever lost the provider');

  cluster.heal();
  await cluster.waitForAllServing();
  await waitFor('member 1 to serve again', () => cluster.serving(1));
});
