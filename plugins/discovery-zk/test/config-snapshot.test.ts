// Rule documents persisted like provider lists: a consumer that starts while ZooKeeper is down still
// has the last rules it knew.
import t from 'tap';
import { fourLetterWord, startZooKeeper, type ZooKeeperServer } from '@trellis/testkit';
import { zookeeperRegistry, type ZooKeeperRegistry, type ZooKeeperRegistryOptions } from '../src/index.js';
import { parseMntr, SERVICE, waitFor } from './fixtures/helpers.js';

let zk: ZooKeeperServer;
t.before(async () => {
  zk = await startZooKeeper({ tickTime: 500 });
});
t.teardown(() => zk?.stop());

const open = (t: { teardown(fn: () => unknown): void }, options: Partial<ZooKeeperRegistryOptions> = {}): ZooKeeperRegistry => {
  const registry = zookeeperRegistry({ connectString: zk.connectString, sessionTimeoutMs: 2000, connectTimeoutMs: 3000, snapshotDir: false, onError: () => undefined, ...options });
  t.teardown(() => registry.close());
  return registry;
};

/** Every document one watchConfig listener was given, in order. */
function documents(): { readonly all: (string | undefined)[]; readonly listener: (document: string | undefined) => void } {
  const all: (string | undefined)[] = [];
  return { all, listener: (document) => all.push(document) };
}

/**
 * Waits until the server holds exactly `count` watches. The server arms a watch while it answers the
 * read that asked for it, and answers before it sends any notification of a later change: once the
 * registry's watch is counted, a document written afterwards reaches the registry after that read.
 */
const watches = (count: number): Promise<boolean> =>
  waitFor(`${count} watch(es) on the server`, async () => parseMntr(await fourLetterWord(zk.port, 'mntr').catch(() => '')).zk_watch_count === count);

t.test('a consumer started while ZooKeeper is down gets the last document from its snapshot, then the live one', async (t) => {
  const snapshotDir = t.testdir();
  const admin = open(t, { root: '/c1' });
  await admin.putConfig(SERVICE, 'routes', 'v1');
  const first = open(t, { root: '/c1', snapshotDir });
  const firstDocs = documents();
  first.watchConfig(SERVICE, 'routes', firstDocs.listener);
  await waitFor('v1', () => firstDocs.all.length === 1);
  t.same(firstDocs.all, ['v1']);
  await first.close();
  // Changed while no consumer with this snapshot runs: the snapshot still says v1.
  await admin.putConfig(SERVICE, 'routes', 'v2');
  await admin.close();

  zk.kill('SIGKILL');
  const startedAt = Date.now();
  // Order, not a clock: the snapshot must be served before a sentinel timer set just before the watch
  // is opened, 3 s, short of the 4 s connect timeout. The stand-in serves it from a 1 s timer armed
  // when the watch opens (the snapshot file is read then, synchronously); timers fire in the order they
  // fall due and a stall delays them all alike, so a stalled CI machine cannot let the sentinel win.
  // A snapshot held back until the connect timeout (or never served) lets it fire first.
  let sentinelFired = false;
  const sentinel = setTimeout(() => (sentinelFired = true), 3000);
  t.teardown(() => clearTimeout(sentinel));
  const late = open(t, { root: '/c1', snapshotDir, connectTimeoutMs: 4000 });
  const blind = open(t, { root: '/c1', connectTimeoutMs: 4000 }); // no snapshot
  const other = open(t, { root: '/c1-other', snapshotDir, connectTimeoutMs: 4000 }); // another root
  const lateDocs = documents();
  const blindDocs = documents();
  const otherDocs = documents();
  let servedBeforeSentinel = false;
  late.watchConfig(SERVICE, 'routes', (document) => {
    if (lateDocs.all.length === 0 && !sentinelFired) servedBeforeSentinel = true;
    lateDocs.listener(document);
  });
  blind.watchConfig(SERVICE, 'routes', blindDocs.listener);
  other.watchConfig(SERVICE, 'routes', otherDocs.listener);
  await waitFor('the snapshot', () => lateDocs.all.length === 1);
  t.same(lateDocs.all, ['v1'], 'the last document this consumer knew');
  t.ok(servedBeforeSentinel, `served after 1 s without an answer, before the connect timeout (${Date.now() - startedAt} ms)`);
  await t.rejects(blind.connect(), { code: 'ERR_REGISTRY_UNREACHABLE' });
  t.same(blindDocs.all, [], 'without a snapshot nothing is delivered');
  t.same(otherDocs.all, [], 'a registry with another root does not read this snapshot');

  await zk.restart();
  await waitFor('the live document', () => lateDocs.all.length === 2);
  t.same(lateDocs.all, ['v1', 'v2'], 'the live document differs from the snapshot: delivered');
  await waitFor('the blind consumer to get it', () => blindDocs.all.length === 1);
  t.same(blindDocs.all, ['v2']);
});

t.test('the same live document is not delivered twice; a deletion is persisted too', async (t) => {
  const snapshotDir = t.testdir();
  const first = open(t, { root: '/c2', snapshotDir });
  await first.putConfig(SERVICE, 'routes', 'v1');
  const firstDocs = documents();
  first.watchConfig(SERVICE, 'routes', firstDocs.listener);
  await waitFor('v1', () => firstDocs.all.length === 1);
  await first.close();

  zk.kill('SIGKILL');
  const second = open(t, { root: '/c2', snapshotDir });
  const secondDocs = documents();
  second.watchConfig(SERVICE, 'routes', secondDocs.listener);
  // The default 10 s, not 3 s: a wait only (the stand-in's 1 s timer), on a machine that may stall.
  await waitFor('the snapshot', () => secondDocs.all.length === 1);
  t.same(secondDocs.all, ['v1']);
  await zk.restart();
  await second.connect();
  await watches(1); // the live v1 has been read (see watches())
  const admin = open(t, { root: '/c2' });
  await admin.putConfig(SERVICE, 'routes', undefined);
  await waitFor('the deletion', () => secondDocs.all.length >= 2);
  t.same(secondDocs.all, ['v1', undefined], 'the live v1 equalled the snapshot and was not delivered again');
  await Promise.all([second.close(), admin.close()]);

  zk.kill('SIGKILL');
  const third = open(t, { root: '/c2', snapshotDir });
  const thirdDocs = documents();
  third.watchConfig(SERVICE, 'routes', thirdDocs.listener);
  await waitFor('the snapshot of the deletion', () => thirdDocs.all.length === 1);
  t.same(thirdDocs.all, [undefined], 'the snapshot says: no document');
  await zk.restart();
  await third.connect();
  await watches(1); // the live (absent) document has been read
  const admin2 = open(t, { root: '/c2' });
  await admin2.putConfig(SERVICE, 'routes', 'v3');
  await waitFor('v3', () => thirdDocs.all.length >= 2);
  t.same(thirdDocs.all, [undefined, 'v3'], 'still absent when read live: not delivered again');

  const disabled = open(t, { root: '/c2' }); // snapshotDir: false
  const disabledDocs = documents();
  disabled.watchConfig(SERVICE, 'routes', disabledDocs.listener);
  await waitFor('v3 without snapshots', () => disabledDocs.all.length === 1);
  t.same(disabledDocs.all, ['v3']);
});
