import t, { type Test } from 'tap';
import { fourLetterWord, startEtcdCluster, startZooKeeperEnsemble, waitFor, type RegistryCluster } from '../src/index.js';
import { etcdLeadership } from '../src/etcd-member.js';

/** The faults every cluster offers, checked the same way for etcd and ZooKeeper. */
async function exercise(t: Test, cluster: RegistryCluster, clientAnswers: (index: number) => Promise<boolean>): Promise<void> {
  t.equal(cluster.members.length, 3);
  t.equal(new Set(cluster.members.map((m) => m.clientPort)).size, 3, 'distinct client ports');

  const leader = await cluster.waitForLeader();
  const follower = (leader + 1) % 3;
  const majority = [0, 1, 2].filter((i) => i !== follower);
  cluster.partition(follower);
  await waitFor(async () => !(await cluster.serving(follower)), { timeoutMs: 30_000, what: 'the partitioned member to stop serving' });
  // Polled, not asked once: each probe has a 1–2 s deadline, which a loaded machine can miss while
  // the port answers. A cut client port would never answer.
  await t.resolves(waitFor(() => clientAnswers(follower), { timeoutMs: 30_000, what: 'the partitioned member\'s client port to answer' }), 'its client port still answers');
  // The majority keeps serving with a leader of its own: usually the same one, but a member stalled
  // past the election timeout on a loaded machine makes the two re-elect, which is no fault. This
  // still fails if the partition cut more than the one member (no quorum, so no leader and no service).
  await t.resolves(waitFor(async () => {
    const now = await cluster.leader();
    return now !== undefined && now !== follower && (await Promise.all(majority.map((i) => cluster.serving(i)))).every(Boolean);
  }, { timeoutMs: 30_000, what: 'the majority to serve with a leader' }), 'the majority keeps a leader and serves');
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
  // startAll() resolved once a majority served; asked again (polled: a probe can miss its deadline
  // on a loaded machine), a majority still does. Fails if the cluster did not come back.
  await t.resolves(waitFor(async () => (await Promise.all(cluster.members.map((m) => cluster.serving(m.index)))).filter(Boolean).length >= 2, {
    timeoutMs: 30_000, what: 'a majority to serve',
  }), 'back: a majority serves');
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
