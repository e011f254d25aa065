import t from 'tap';
import { startEtcd, type EtcdServer } from '@trellis/testkit';
import type { Etcd3 } from 'etcd3';
import { EtcdErrorCodes } from '../src/index.js';
import { Lists, SERVICE, instance, makeRegistry, rawClient, waitFor, watcherCount } from './fixtures/helpers.js';

let etcd: EtcdServer;
t.before(async () => {
  etcd = await startEtcd();
});
t.teardown(() => etcd?.stop());

t.test('register, discover, deregister: the documented key layout and document', async (t) => {
  const provider = makeRegistry(t, etcd.endpoints, { root: '/reg1', ttlSeconds: 5 });
  const consumer = makeRegistry(t, etcd.endpoints, { root: '/reg1' });
  const raw = rawClient(t, etcd.endpoints);
  const lists = new Lists();
  consumer.subscribe(SERVICE, lists.listener);
  await lists.until([]);

  const methods = { Mutate: { idempotent: true } };
  // Issue #19: the protocols an instance serves, each with its port, next to the native `port`.
  const protocols = { trellis: { port: 7001, tls: false }, grpc: { port: 7002, tls: true } };
  const info = instance(7001, { weight: 50, version: '1.2.0', tags: { lane: 'gray' }, zone: 'z1', methods, protocols });
  await provider.register(SERVICE, info);
  await lists.until(['127.0.0.1:7001']);
  t.same(lists.last, [
    { id: '127.0.0.1:7001', host: '127.0.0.1', port: 7001, weight: 50, version: '1.2.0', tags: { lane: 'gray' }, zone: 'z1', startedAt: info.startedAt, protocol: 'trellis', protocols, methods },
  ], 'the provider\'s method declarations and protocols reach the consumer');

  const key = '/reg1/services/default/demo.Echo/providers/127.0.0.1:7001';
  const stored = await raw.get(key).exec();
  t.same(JSON.parse(stored.kvs[0]!.value.toString()), info, 'the value is the InstanceInfo JSON');
  t.equal(stored.kvs[0]!.lease, provider.leaseId, 'the key is under the registry lease');
  const lease = await raw.leaseClient.leaseTimeToLive({ ID: provider.leaseId! });
  t.equal(lease.grantedTTL, '5', 'the lease has the configured TTL');

  await provider.register(SERVICE, instance(7002));
  await lists.until(['127.0.0.1:7001', '127.0.0.1:7002']);
  t.equal((await raw.getAll().prefix('/reg1/').keys()).length, 2);
  const leases = await raw.leaseClient.leaseLeases();
  t.equal(leases.leases.filter((l) => l.ID === provider.leaseId).length, 1, 'one lease for every instance of the registry');

  await provider.deregister(SERVICE, instance(7001));
  await lists.until(['127.0.0.1:7002']);
  t.equal(await raw.get(key).string(), null, 'deregister deleted the key');
  t.same(provider.errors, []);
  t.same(consumer.errors, []);
});

t.test('a late subscriber gets the current list; subscriptions to one service share one watch', async (t) => {
  const provider = makeRegistry(t, etcd.endpoints, { root: '/reg2' });
  const consumer = makeRegistry(t, etcd.endpoints, { root: '/reg2' });
  await provider.register(SERVICE, instance(7101));
  t.equal(await watcherCount(etcd.endpoints), 0);

  const first = new Lists();
  const second = new Lists();
  const a = consumer.subscribe(SERVICE, first.listener);
  await first.until(['127.0.0.1:7101']);
  const b = consumer.subscribe(SERVICE, second.listener);
  await second.until(['127.0.0.1:7101']);
  t.equal(second.all.length, 1, 'the late subscriber got the list once');
  t.equal(await watcherCount(etcd.endpoints), 1, 'one etcd watch for both subscriptions');

  const other = new Lists();
  const c = consumer.subscribe({ group: 'default', name: 'demo.Other' }, other.listener);
  await other.until([]);
  t.equal(await watcherCount(etcd.endpoints), 2, 'another service has its own watch');

  a.dispose();
  a.dispose(); // idempotent
  await provider.register(SERVICE, instance(7102));
  await second.until(['127.0.0.1:7101', '127.0.0.1:7102']);
  t.equal(first.all.length, 1, 'a disposed subscription gets nothing more');
  b.dispose();
  c.dispose();
  await waitFor('the watches to be cancelled', async () => (await watcherCount(etcd.endpoints)) === 0);
});

t.test('a burst of 50 registrations is debounced into a few notifications', async (t) => {
  // Five providers registering ten instances one by one: fifty separate etcd writes and watch events.
  const providers = Array.from({ length: 5 }, () => makeRegistry(t, etcd.endpoints, { root: '/reg3' }));
  // A 1 s window (so at most 5 s before a notification is forced): the fifty writes, one after another
  // per provider, took 2.5 s at load 30, and with a 150 ms window (750 ms at most) that burst became
  // four notifications. Undebounced, it would be up to fifty.
  const consumer = makeRegistry(t, etcd.endpoints, { root: '/reg3', debounceMs: 1000 });
  const lists = new Lists();
  consumer.subscribe(SERVICE, lists.listener);
  await lists.until([]);
  const ports = Array.from({ length: 50 }, (_, i) => 7200 + i);
  await Promise.all(
    providers.map(async (provider, p) => {
      for (const port of ports.slice(p * 10, p * 10 + 10)) await provider.register(SERVICE, instance(port));
    }),
  );
  await lists.until(ports.map((port) => `127.0.0.1:${port}`));
  const afterBurst = lists.all.length - 1;
  t.ok(afterBurst >= 1 && afterBurst <= 3, `the burst became ${afterBurst} notification(s)`);
  t.ok(lists.all.every((list, i) => i === 0 || list.length >= lists.all[i - 1]!.length), 'lists only grew');
});

t.test('a watch that etcd cancels (its revision was compacted) is read again and watched anew', async (t) => {
  const provider = makeRegistry(t, etcd.endpoints, { root: '/reg9' });
  const consumer = makeRegistry(t, etcd.endpoints, { root: '/reg9' });
  const raw = rawClient(t, etcd.endpoints);
  await provider.register(SERVICE, instance(7601));
  for (let i = 0; i < 3; i++) await raw.put('/reg9/other').value(String(i));
  const { header } = await raw.get('/reg9/other').exec();
  await raw.kv.compact({ revision: header.revision, physical: true });

  // The first watch this consumer opens asks for revision 1, long compacted: exactly what a watch
  // resuming after a long outage would hit. etcd cancels it.
  const client = (consumer as unknown as { client: Etcd3 }).client;
  const watch = client.watch.bind(client);
  client.watch = () => {
    client.watch = watch;
    const builder = watch();
    const startRevision = builder.startRevision.bind(builder);
    builder.startRevision = () => startRevision('1');
    return builder;
  };
  const lists = new Lists();
  consumer.subscribe(SERVICE, lists.listener);
  await lists.until(['127.0.0.1:7601']);
  await waitFor('the cancelled watch to be reported', () => consumer.errors.some((e) => e.code === EtcdErrorCodes.WATCH_RESET));
  await provider.register(SERVICE, instance(7602));
  await lists.until(['127.0.0.1:7601', '127.0.0.1:7602']);
  t.equal(await watcherCount(etcd.endpoints), 1, 'one live watch, the cancelled one is gone');
});

t.test('a malformed document is skipped and reported, the rest of the list stays', async (t) => {
  const provider = makeRegistry(t, etcd.endpoints, { root: '/reg4' });
  const consumer = makeRegistry(t, etcd.endpoints, { root: '/reg4' });
  const raw = rawClient(t, etcd.endpoints);
  await provider.register(SERVICE, instance(7301));
  const lists = new Lists();
  consumer.subscribe(SERVICE, lists.listener);
  await lists.until(['127.0.0.1:7301']);
  await raw.put('/reg4/services/default/demo.Echo/providers/bad:1').value('{not json');
  await raw.put('/reg4/services/default/demo.Echo/providers/bad:2').value('{"host":"x"}');
  await provider.register(SERVICE, instance(7302));
  await lists.until(['127.0.0.1:7301', '127.0.0.1:7302']);
  await waitFor('two malformed-document reports', () => consumer.errors.filter((e) => e.code === EtcdErrorCodes.MALFORMED_DOCUMENT).length === 2);
  t.match(consumer.errors.map((e) => e.message).join('\n'), /bad:1[\s\S]*bad:2/, 'each report names its key');
});

t.test('a listener that throws is reported and does not break the others', async (t) => {
  const provider = makeRegistry(t, etcd.endpoints, { root: '/reg5' });
  const consumer = makeRegistry(t, etcd.endpoints, { root: '/reg5' });
  consumer.subscribe(SERVICE, () => {
    throw new Error('boom');
  });
  const lists = new Lists();
  consumer.subscribe(SERVICE, lists.listener);
  await provider.register(SERVICE, instance(7401));
  await lists.until(['127.0.0.1:7401']);
  t.ok(consumer.errors.some((e) => e.code === EtcdErrorCodes.LISTENER_FAILED));
});

t.test('config documents: watchConfig and putConfig at {root}/config/{group}/{service}/{name}', async (t) => {
  const admin = makeRegistry(t, etcd.endpoints, { root: '/reg6' });
  const consumer = makeRegistry(t, etcd.endpoints, { root: '/reg6' });
  const raw = rawClient(t, etcd.endpoints);
  const seen: (string | undefined)[] = [];
  const also: (string | undefined)[] = [];
  const a = consumer.watchConfig(SERVICE, 'routes', (doc) => seen.push(doc));
  await waitFor('the initial (absent) document', () => seen.length === 1);
  t.same(seen, [undefined]);

  await admin.putConfig(SERVICE, 'routes', '{"rules":[1]}');
  await waitFor('the document', () => seen.at(-1) === '{"rules":[1]}');
  t.equal(await raw.get('/reg6/config/default/demo.Echo/routes').string(), '{"rules":[1]}');
  consumer.watchConfig(SERVICE, 'routes', (doc) => also.push(doc));
  await waitFor('a second watcher to get the document', () => also.length === 1);
  t.equal(await watcherCount(etcd.endpoints), 1, 'both share one watch');

  await admin.putConfig(SERVICE, 'routes-v2', 'other'); // a neighbouring key is not this document
  await admin.putConfig(SERVICE, 'routes', '{"rules":[2]}');
  await waitFor('the update', () => seen.at(-1) === '{"rules":[2]}');
  await admin.putConfig(SERVICE, 'routes', undefined);
  await waitFor('the deletion', () => seen.length === 4 && seen[3] === undefined);
  t.same(seen, [undefined, '{"rules":[1]}', '{"rules":[2]}', undefined]);
  a.dispose();
});

t.test('close() deregisters everything, revokes the lease, stops the watches; it is idempotent', async (t) => {
  const provider = makeRegistry(t, etcd.endpoints, { root: '/reg7' });
  const consumer = makeRegistry(t, etcd.endpoints, { root: '/reg7' });
  const raw = rawClient(t, etcd.endpoints);
  await provider.register(SERVICE, instance(7501));
  await provider.register({ group: 'g2', name: 'demo.Other', version: '1.0.0' }, instance(7502));
  const lists = new Lists();
  provider.subscribe(SERVICE, lists.listener);
  consumer.subscribe(SERVICE, new Lists().listener);
  consumer.watchConfig(SERVICE, 'routes', () => undefined);
  await lists.until(['127.0.0.1:7501']);
  t.equal((await raw.getAll().prefix('/reg7/').keys()).length, 2);
  const lease = provider.leaseId!;

  await Promise.all([provider.close(), provider.close()]);
  await provider.close();
  t.same(await raw.getAll().prefix('/reg7/').keys(), [], 'every key is gone');
  t.equal((await raw.leaseClient.leaseTimeToLive({ ID: lease })).TTL, '-1', 'the lease is revoked');
  await t.rejects(provider.register(SERVICE, instance(7503)), { code: EtcdErrorCodes.REGISTRY_CLOSED });
  t.throws(() => provider.subscribe(SERVICE, () => undefined), { code: EtcdErrorCodes.REGISTRY_CLOSED });
  await provider.deregister(SERVICE, instance(7501)); // harmless after close

  await consumer.close();
  await waitFor('no watchers left', async () => (await watcherCount(etcd.endpoints)) === 0);
});

t.test('bad service names and instances are refused before they reach a key', async (t) => {
  const registry = makeRegistry(t, etcd.endpoints, { root: '/reg8' });
  await t.rejects(registry.register({ group: 'a/b', name: 'x', version: '1.0.0' }, instance(1)), { code: 'ERR_SERVICE_INVALID' });
  await t.rejects(registry.register(SERVICE, instance(1, { host: 'a/b' })), { code: 'ERR_SERVICE_INVALID' });
  await t.rejects(registry.register(SERVICE, instance(70000)), { code: 'ERR_SERVICE_INVALID' });
  t.throws(() => registry.subscribe({ group: 'default', name: '' }, () => undefined), { code: 'ERR_SERVICE_INVALID' });
  t.throws(() => registry.watchConfig(SERVICE, '../x', () => undefined), { code: 'ERR_SERVICE_INVALID' });
});
