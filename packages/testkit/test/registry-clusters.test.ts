import t, { type Test } from 'tap';
import { fourLetterWord, startEtcdCluster, startZooKeeperEnsemble, waitFor, type RegistryCluster } from '../src/index.js';
import { etcdLeadership } from '../src/etcd-member.js';

/** The faults every cluster offers, checked the same way for etcd and ZooKeeper. */
async function exercise(t: Test, cluster: RegistryCluster, clientAnswers: (index: number) => Promise<boolean>): Promise<void> {
  t.equal(cluster.members.length, 3);
  t.equal(new Set(cluster.members.map((m) => m.clientPort)).size, 3, 'distinct client ports');

  const leader = await cluster.waitForLeader();
  const follower = (leader + 1) % 3;
  cluster.partition(follower);
  await waitFor(async () => !(await cluster.serving(follower)), { timeoutMs: 20_000, what: 'the partitioned member to stop serving' });
  t.ok(await clientAnswers(follower), 'its client port still answers');
  t.equal(await cluster.leader(), leader, 'the majority keeps its leader');
  cluster.heal();
  await cluster.waitForAllServing();
  t.pass('healed: every member serves again');

  const before = await cluster.waitForLeader();
  await cluster.kill(before);
  const after = await cluster.waitForNewLeader(before);
  t.not(after, before, `a new leader after kill -9 of member ${before}`);
  await cluster.start(before);
  await cluster.waitForAllServing();

  await cluster.stopAll();
  t.ok(cluster.members.every((m) => !m.running), 'whole cluster down');
  await cluster.startAll();
  t.ok((await Promise.all(cluster.members.map((m) => cluster.serving(m.index)))).filter(Boolean).length >= 2, 'back: a majority serves');
  await cluster.waitForAllServing();
}

t.test('a 3-member etcd cluster: partition, leader kill, whole cluster down and up', async (t) => {
  const cluster = await startEtcdCluster();
  t.teardown(() => cluster.stop());
  t.equal(cluster.endpoints.split(',').length, 3);
  await exercise(t, cluster, async (index) => (await etcdLeadership(cluster.members[index]!.clientPort)) !== undefined);
});

t.test('a 3-server ZooKeeper ensemble: partition, leader kill, whole ensemble down and up', async (t) => {
  const ensemble = await startZooKeeperEnsemble({ tickTime: 500 });
  t.teardown(() => ensemble.stop());
  t.equal(ensemble.connectString.split(',').length, 3);
  await exercise(t, ensemble, async (index) => (await fourLetterWord(ensemble.members[index]!.clientPort, 'srvr')).includes('not currently serving'));
});
