import { fork } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import t from 'tap';
import { startEtcd, type EtcdServer } from '@trellis/testkit';
import { EtcdErrorCodes } from '../src/index.js';
import { Lists, SERVICE, instance, makeRegistry, rawClient, tempDir, waitFor, watcherCount } from './fixtures/helpers.js';

let etcd: EtcdServer;
t.before(async () => {
  etcd = await startEtcd();
});
t.teardown(() => etcd?.stop());

const hasCode = (errors: readonly { code: string }[], code: string): boolean => errors.some((e) => e.code === code);

t.test('a provider process that is SIGKILLed disappears within the lease TTL', async (t) => {
  const consumer = makeRegistry(t, etcd.endpoints, { root: '/f1' });
  const raw = rawClient(t, etcd.endpoints);
  const lists = new Lists();
  consumer.subscribe(SERVICE, lists.listener);

  // A real second process (with tap's TypeScript loader), so nothing of it can run after the kill.
  const child = fork(join(__dirname, 'fixtures', 'provider-child.ts'), [etcd.endpoints, '/f1', '7601'], {
    execArgv: process.execArgv,
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  t.teardown(() => child.kill('SIGKILL'));
  const [message] = (await once(child, 'message')) as [{ registered: boolean; lease?: string; error?: string }];
  t.ok(message.registered, `the child registered (${message.error ?? 'ok'})`);
  await lists.until(['127.0.0.1:7601']);

  const killedAt = Date.now();
  child.kill('SIGKILL');
  await lists.until([], 15_000);
  const goneAfter = Date.now() - killedAt;
  // etcd expires leases on its own clock and checks every 500 ms; a loaded machine delays that and the
  // watch event. 4 s beyond the TTL (it was 2.5 s) still rules out a key kept for the default 10 s TTL:
  // kept alive every 3 s at most, such a lease runs out 7 s or more after the kill (stalls only add),
  // and a key kept until a consumer re-lists never goes.
  t.ok(goneAfter <= 2000 + 4000, `the key was gone ${goneAfter} ms after the kill (TTL 2 s)`);
  t.equal((await raw.leaseClient.leaseTimeToLive({ ID: message.lease! })).TTL, '-1', "the child's lease expired");
});

t.test('a lease revoked behind the registry is replaced and every instance registered again', async (t) => {
  const provider = makeRegistry(t, etcd.endpoints, { root: '/f2', ttlSeconds: 3 });
  const consumer = makeRegistry(t, etcd.endpoints, { root: '/f2' });
  const raw = rawClient(t, etcd.endpoints);
  const lists = new Lists();
  consumer.subscribe(SERVICE, lists.listener);
  await provider.register(SERVICE, instance(7701));
  await provider.register(SERVICE, instance(7702));
  await lists.until(['127.0.0.1:7701', '127.0.0.1:7702']);

  const old = provider.leaseId!;
  await raw.leaseClient.leaseRevoke({ ID: old });
  // The helper's 15 s, not 3 s: a lease never replaced still fails it; a stalled machine does not.
  await waitFor('a new lease', () => provider.leaseId !== undefined && provider.leaseId !== old);
  await waitFor('both keys back under the new lease', async () => {
    const { kvs } = await raw.getAll().prefix('/f2/').exec();
    return kvs.length === 2 && kvs.every((kv) => kv.lease === provider.leaseId);
  });
  await lists.until(['127.0.0.1:7701', '127.0.0.1:7702']);
  t.ok(hasCode(provider.errors, EtcdErrorCodes.LEASE_LOST), 'the loss was reported');
  const { leases } = await raw.leaseClient.leaseLeases();
  t.notOk(leases.some((l) => l.ID === old), 'the revoked lease stays gone');
});

t.test('a key deleted behind the registry is written again by the periodic check', async (t) => {
  const provider = makeRegistry(t, etcd.endpoints, { root: '/f3', ttlSeconds: 3, checkIntervalMs: 300 });
  const raw = rawClient(t, etcd.endpoints);
  await provider.register(SERVICE, instance(7801));
  const key = '/f3/services/default/demo.Echo/providers/127.0.0.1:7801';
  const lease = provider.leaseId;
  await raw.delete().key(key);
  // The helper's 15 s, not 3 s: a key never written again still fails it; a stalled machine does not.
  await waitFor('the key to be back', async () => (await raw.get(key).exec()).kvs[0]?.lease === lease);
  t.equal(provider.leaseId, lease, 'the lease itself was fine and is kept');
  t.ok(hasCode(provider.errors, EtcdErrorCodes.KEY_LOST), 'the repair was reported');
});

t.test('etcd killed and restarted: the list is never emptied, providers are registered afterwards', async (t) => {
  const provider = makeRegistry(t, etcd.endpoints, { root: '/f4', ttlSeconds: 2, connectTimeoutMs: 500 });
  const consumer = makeRegistry(t, etcd.endpoints, { root: '/f4' });
  const raw = rawClient(t, etcd.endpoints);
  const lists = new Lists();
  consumer.subscribe(SERVICE, lists.listener);
  await provider.register(SERVICE, instance(7901));
  await provider.register(SERVICE, instance(7903));
  await lists.until(['127.0.0.1:7901', '127.0.0.1:7903']);
  const delivered = lists.all.length;

  await etcd.kill('SIGKILL');
  await waitFor('the provider to report the outage', () => hasCode(provider.errors, EtcdErrorCodes.REGISTRY_UNREACHABLE));
  await waitFor('the consumer to report the outage', () => hasCode(consumer.errors, EtcdErrorCodes.REGISTRY_UNREACHABLE));
  // A registry that has been connected accepts a registration during the outage and writes it later.
  await provider.register(SERVICE, instance(7902));
  // A deregistration during the outage resolves too, and the key is deleted once etcd is back.
  const deregistering = Date.now();
  await provider.deregister(SERVICE, instance(7903));
  // 4 s beyond the 500 ms connect timeout for a stalled CI machine (it was 2.5 s): still below the 5 s
  // default requestTimeoutMs, so an attempt not cut at the connect deadline fails it, and a
  // deregister() left waiting for etcd never resolves.
  const took = Date.now() - deregistering;
  t.ok(took < 500 + 4000, `deregister() is bounded by the connect timeout (${took} ms)`);
  // Stay down longer than the TTL: the lease's clock runs out while etcd is away.
  await new Promise((resolve) => setTimeout(resolve, 2200));
  t.equal(lists.all.length, delivered, 'nothing was delivered during the outage');

  await etcd.restart();
  await lists.until(['127.0.0.1:7901', '127.0.0.1:7902'], 8000);
  t.ok(lists.all.slice(delivered - 1).every((list) => list.length > 0), 'the consumer never got an empty list');
  const { kvs } = await raw.getAll().prefix('/f4/').exec();
  t.equal(kvs.length, 2, 'one key per instance');
  t.ok(kvs.every((kv) => kv.lease === provider.leaseId), 'both under the live lease');
  await waitFor('the lease to be kept alive again', async () => {
    const ttl = await raw.leaseClient.leaseTimeToLive({ ID: provider.leaseId! });
    return Number(ttl.TTL) > 0;
  });
});

t.test('a consumer started while etcd is down uses its snapshot, then the live list', async (t) => {
  const dir = tempDir(t);
  const provider = makeRegistry(t, etcd.endpoints, { root: '/f5', connectTimeoutMs: 500 });
  await provider.register(SERVICE, instance(8001));
  const first = makeRegistry(t, etcd.endpoints, { root: '/f5', snapshotDir: dir });
  const firstLists = new Lists();
  first.subscribe(SERVICE, firstLists.listener);
  await firstLists.until(['127.0.0.1:8001']);
  await first.close();
  t.equal(readdirSync(dir).length, 1, 'the list was saved');

  await etcd.kill('SIGKILL');
  const startedAt = Date.now();
  const late = makeRegistry(t, etcd.endpoints, { root: '/f5', snapshotDir: dir, connectTimeoutMs: 500 });
  const blind = makeRegistry(t, etcd.endpoints, { root: '/f5', connectTimeoutMs: 500 }); // no snapshot
  const lateLists = new Lists();
  const blindLists = new Lists();
  late.subscribe(SERVICE, lateLists.listener);
  blind.subscribe(SERVICE, blindLists.listener);
  await lateLists.until(['127.0.0.1:8001'], 10_000);
  const after = Date.now() - startedAt;
  t.ok(after >= 450, `the snapshot came after the connect timeout (${after} ms)`);
  t.equal(blindLists.all.length, 0, 'without a snapshot nothing (in particular no empty list) is delivered');

  await etcd.restart();
  await provider.register(SERVICE, instance(8002));
  await lateLists.until(['127.0.0.1:8001', '127.0.0.1:8002'], 8000);
  await blindLists.until(['127.0.0.1:8001', '127.0.0.1:8002'], 8000);
  t.ok(lateLists.all.every((list) => list.length > 0));
});

/** Every document one watchConfig listener was given, in order. */
function documents(): { readonly all: (string | undefined)[]; readonly listener: (document: string | undefined) => void } {
  const all: (string | undefined)[] = [];
  return { all, listener: (document) => all.push(document) };
}

t.test('rule documents: a consumer started while etcd is down gets the last one from its snapshot, then the live one', async (t) => {
  const dir = tempDir(t);
  const admin = makeRegistry(t, etcd.endpoints, { root: '/f7' });
  await admin.putConfig(SERVICE, 'routes', 'v1');
  const first = makeRegistry(t, etcd.endpoints, { root: '/f7', snapshotDir: dir });
  const firstDocs = documents();
  first.watchConfig(SERVICE, 'routes', firstDocs.listener);
  await waitFor('the first consumer to get v1', () => firstDocs.all.length === 1);
  t.same(firstDocs.all, ['v1']);
  await first.close();
  // Changed while no consumer with this snapshot runs: the snapshot still says v1.
  await admin.putConfig(SERVICE, 'routes', 'v2');

  await etcd.kill('SIGKILL');
  const startedAt = Date.now();
  // An 8 s connect timeout: 7 s of room after the 1 s stand-in delay for a stalled CI machine (it was
  // 4 s, 3 s of room). A snapshot that stood in only at the connect timeout comes at 8 s or later and
  // still fails the check below.
  const late = makeRegistry(t, etcd.endpoints, { root: '/f7', snapshotDir: dir, connectTimeoutMs: 8000 });
  const blind = makeRegistry(t, etcd.endpoints, { root: '/f7', connectTimeoutMs: 8000 }); // no snapshot
  const other = makeRegistry(t, etcd.endpoints, { root: '/f7-other', snapshotDir: dir, connectTimeoutMs: 8000 }); // another root
  const lateDocs = documents();
  const blindDocs = documents();
  const otherDocs = documents();
  late.watchConfig(SERVICE, 'routes', lateDocs.listener);
  blind.watchConfig(SERVICE, 'routes', blindDocs.listener);
  other.watchConfig(SERVICE, 'routes', otherDocs.listener);
  await waitFor('the snapshot', () => lateDocs.all.length === 1, 8000);
  t.same(lateDocs.all, ['v1'], 'the last document this consumer knew');
  t.ok(Date.now() - startedAt < 8000, 'served after 1 s without an answer, before the connect timeout');
  const lateToo = documents();
  late.watchConfig(SERVICE, 'routes', lateToo.listener);
  await waitFor('a second listener to get the snapshot', () => lateToo.all.length === 1);
  t.same(lateToo.all, ['v1']);
  await waitFor('the outage to be reported', () => hasCode(blind.errors, EtcdErrorCodes.REGISTRY_UNREACHABLE));
  t.same(blindDocs.all, [], 'without a snapshot nothing is delivered');
  t.same(otherDocs.all, [], 'a registry with another root does not read this snapshot');

  await etcd.restart();
  await waitFor('the live document', () => lateDocs.all.length === 2, 8000);
  t.same(lateDocs.all, ['v1', 'v2'], 'the live document differs from the snapshot: delivered');
  await waitFor('the blind consumer to get it', () => blindDocs.all.length === 1, 8000);
  t.same(blindDocs.all, ['v2']);
  t.same(lateToo.all, ['v1', 'v2']);
});

t.test('rule documents: the same live document is not delivered twice; a deletion is persisted too', async (t) => {
  const dir = tempDir(t);
  const first = makeRegistry(t, etcd.endpoints, { root: '/f8', snapshotDir: dir });
  await first.putConfig(SERVICE, 'routes', 'v1');
  const firstDocs = documents();
  first.watchConfig(SERVICE, 'routes', firstDocs.listener);
  await waitFor('v1', () => firstDocs.all.length === 1);
  await first.close();

  await etcd.kill('SIGKILL');
  const second = makeRegistry(t, etcd.endpoints, { root: '/f8', snapshotDir: dir, connectTimeoutMs: 500 });
  const secondDocs = documents();
  second.watchConfig(SERVICE, 'routes', secondDocs.listener);
  // The helper's 15 s, not 3 s: a wait only (the stand-in's 500 ms timer); a snapshot never served
  // still fails it, a stalled machine does not.
  await waitFor('the snapshot', () => secondDocs.all.length === 1);
  t.same(secondDocs.all, ['v1']);
  await etcd.restart();
  // etcd counts a watch once it is created, and the registry creates it right after its read and
  // hands that read to the watcher in the same turn: once the count is 1 (this registry holds the
  // only watch on the fresh etcd), the live v1 has been compared with the snapshot.
  await waitFor('the live read', async () => (await watcherCount(etcd.endpoints).catch(() => 0)) === 1, 8000);
  t.same(secondDocs.all, ['v1'], 'the live document equals the snapshot: not delivered again');

  const admin = makeRegistry(t, etcd.endpoints, { root: '/f8' });
  await admin.putConfig(SERVICE, 'routes', undefined);
  await waitFor('the deletion', () => secondDocs.all.length === 2);
  t.same(secondDocs.all, ['v1', undefined]);
  await second.close();

  await etcd.kill('SIGKILL');
  const third = makeRegistry(t, etcd.endpoints, { root: '/f8', snapshotDir: dir, connectTimeoutMs: 500 });
  const thirdDocs = documents();
  third.watchConfig(SERVICE, 'routes', thirdDocs.listener);
  await waitFor('the snapshot of the deletion', () => thirdDocs.all.length === 1);
  t.same(thirdDocs.all, [undefined], 'the snapshot says: no document');
  await etcd.restart();
  await waitFor('the live read', async () => (await watcherCount(etcd.endpoints).catch(() => 0)) === 1, 8000);
  t.same(thirdDocs.all, [undefined], 'still absent: not delivered again');
  const admin2 = makeRegistry(t, etcd.endpoints, { root: '/f8' });
  await admin2.putConfig(SERVICE, 'routes', 'v3');
  await waitFor('v3', () => thirdDocs.all.length === 2);
  t.same(thirdDocs.all, [undefined, 'v3']);

  const disabled = makeRegistry(t, etcd.endpoints, { root: '/f8', snapshotDir: false });
  const disabledDocs = documents();
  disabled.watchConfig(SERVICE, 'routes', disabledDocs.listener);
  await waitFor('v3 without snapshots', () => disabledDocs.all.length === 1);
  t.same(disabledDocs.all, ['v3']);
});

t.test('etcd replaced by an empty one: providers notice the unknown lease and register again', async (t) => {
  const provider = makeRegistry(t, etcd.endpoints, { root: '/f6', ttlSeconds: 2 });
  const consumer = makeRegistry(t, etcd.endpoints, { root: '/f6' });
  const lists = new Lists();
  consumer.subscribe(SERVICE, lists.listener);
  await provider.register(SERVICE, instance(8101));
  await lists.until(['127.0.0.1:8101']);
  const old = provider.leaseId;

  const port = etcd.port;
  await etcd.stop(); // removes the data directory
  t.notOk(existsSync(join('/proc', String(etcd.pid))), 'the old etcd is gone');
  etcd = await startEtcd({ port });
  const raw = rawClient(t, etcd.endpoints);
  await waitFor('a new lease', () => provider.leaseId !== undefined && provider.leaseId !== old, 5000);
  await waitFor('the key in the new etcd', async () => (await raw.getAll().prefix('/f6/').keys()).length === 1, 5000);
  await lists.until(['127.0.0.1:8101']);
  t.ok(hasCode(provider.errors, EtcdErrorCodes.LEASE_LOST));
});
