// Registration, discovery, debounce, config documents and clean-up against a real ZooKeeper 3.8.
import t from 'tap';
import { CreateMode } from 'node-zookeeper-client';
import { fourLetterWord, startZooKeeper } from '@trellis/testkit';
import type { TrellisError } from '@trellis/core';
import { RegistryPaths } from '@trellis/core/spi';
import { zookeeperRegistry, type ZooKeeperRegistryOptions } from '../src/index.js';
import {
  children, closeRaw, instance, ListRecorder, parseMntr, rawClient, readNode, SERVICE, waitFor, zkCall,
} from './fixtures/helpers.js';

t.test('ZooKeeperRegistry', async (t) => {
  const zk = await startZooKeeper({ tickTime: 500 });
  t.teardown(() => zk.stop());
  const raw = await rawClient(zk.connectString);
  t.teardown(() => closeRaw(raw));
  const mntr = async (): Promise<Record<string, number>> => parseMntr(await fourLetterWord(zk.port, 'mntr'));

  /** A registry closed when the subtest ends; each subtest uses its own root so they cannot interfere. */
  const open = (t: { teardown(fn: () => unknown): void }, root: string, options: Partial<ZooKeeperRegistryOptions> = {}) => {
    const registry = zookeeperRegistry({ connectString: zk.connectString, root, snapshotDir: false, debounceMs: 50, ...options });
    t.teardown(() => registry.close());
    return registry;
  };

  t.test('register, discover, deregister: the documented node layout', async (t) => {
    const provider = open(t, '/layout');
    const consumer = open(t, '/layout');
    const recorder = new ListRecorder();
    consumer.subscribe(SERVICE, recorder.listener);
    await recorder.until([]);

    const methods = { Mutate: { idempotent: true } };
    // Issue #19: the protocols an instance serves, each with its port, next to the native `port`.
    const protocols = { trellis: { port: 9001, tls: false }, grpc: { port: 9002, tls: false } };
    await provider.register(SERVICE, instance(9001, { weight: 50, tags: { lane: 'gray' }, zone: 'z1', methods, protocols }));
    await recorder.until(['127.0.0.1:9001']);

    const path = '/layout/services/default/test.Echo/providers/127.0.0.1:9001';
    t.equal(RegistryPaths.provider('/layout', SERVICE, '127.0.0.1', 9001), path);
    const node = await readNode(raw, path);
    t.equal(node?.owner, provider.sessionId, 'ephemeral, owned by the provider session');
    t.same(JSON.parse(node?.data ?? '{}'), {
      host: '127.0.0.1', port: 9001, weight: 50, version: '1.0.0', tags: { lane: 'gray' }, zone: 'z1', protocol: 'trellis', startedAt: 1, protocols, methods,
    });
    const parent = await readNode(raw, '/layout/services/default/test.Echo/providers');
    t.equal(parent?.owner, '0000000000000000', 'parents are persistent');

    let seen: unknown;
    consumer.subscribe(SERVICE, (list) => (seen = list));
    await waitFor('second subscriber gets the current list', () => seen);
    t.match(seen, [{ id: '127.0.0.1:9001', host: '127.0.0.1', port: 9001, weight: 50, tags: { lane: 'gray' }, zone: 'z1', methods, protocols }], 'method declarations and protocols included');

    await provider.register(SERVICE, instance(9002));
    await recorder.until(['127.0.0.1:9001', '127.0.0.1:9002']);
    await provider.deregister(SERVICE, instance(9001));
    await recorder.until(['127.0.0.1:9002']);
    t.equal(await readNode(raw, path), undefined, 'node deleted');
  });

  t.test('registering the same instance twice keeps one node and sends no extra notification', async (t) => {
    const provider = open(t, '/dedupe');
    const consumer = open(t, '/dedupe');
    const weights: number[][] = [];
    consumer.subscribe(SERVICE, (list) => weights.push(list.map((e) => e.weight)));
    await provider.register(SERVICE, instance(9001));
    await waitFor('first registration seen', () => weights.at(-1)?.[0] === 100);
    const before = weights.length;
    await Promise.all([provider.register(SERVICE, instance(9001)), provider.register(SERVICE, instance(9001))]);
    t.same(await children(raw, '/dedupe/services/default/test.Echo/providers'), ['127.0.0.1:9001']);
    t.equal((await readNode(raw, '/dedupe/services/default/test.Echo/providers/127.0.0.1:9001'))?.owner, provider.sessionId);
    // A re-registration with a new document is written in place, and consumers see it.
    await provider.register(SERVICE, instance(9001, { weight: 7 }));
    await waitFor('new weight', () => weights.at(-1)?.[0] === 7);
    t.equal(weights.length, before + 1, 'identical re-registrations caused no notification');
  });

  t.test('a burst of 50 registrations is merged into a few notifications', async (t) => {
    const provider = open(t, '/burst');
    // A 1 s window: only a pause of a second between two registrations splits the burst (with 100 ms,
    // a loaded machine's pauses could each add a notification). Undebounced, it would be up to fifty.
    const consumer = open(t, '/burst', { debounceMs: 1000 });
    const recorder = new ListRecorder();
    consumer.subscribe(SERVICE, recorder.listener);
    await recorder.until([]);
    const ports = Array.from({ length: 50 }, (_, i) => 10_000 + i);
    const startedAt = Date.now();
    await Promise.all(ports.map((port) => provider.register(SERVICE, instance(port))));
    const burstMs = Date.now() - startedAt;
    await recorder.until(ports.map((port) => `127.0.0.1:${port}`));
    const notifications = recorder.lists.length - 1;
    // debounce delivers at the latest 5 windows after a burst began, so a slow machine may see one
    // more list per 5 s the burst lasted; a quick burst is one or two notifications.
    t.ok(notifications <= 2 + Math.floor(burstMs / 5000), `${notifications} notifications for 50 registrations in ${burstMs} ms`);
    t.equal(recorder.last?.length, 50);
  });

  t.test('subscriptions to one service share one watch', async (t) => {
    const provider = open(t, '/shared');
    await provider.register(SERVICE, instance(9001));
    const consumer = open(t, '/shared');
    const first = new ListRecorder();
    consumer.subscribe(SERVICE, first.listener);
    await first.until(['127.0.0.1:9001']);
    const watches = (await mntr()).zk_watch_count;
    const others = Array.from({ length: 10 }, () => new ListRecorder());
    const subscriptions = others.map((r) => consumer.subscribe(SERVICE, r.listener));
    await Promise.all(others.map((r) => r.until(['127.0.0.1:9001'])));
    t.equal((await mntr()).zk_watch_count, watches, 'ten more subscribers, no more watches');

    await provider.register(SERVICE, instance(9002));
    await Promise.all([first, ...others].map((r) => r.until(['127.0.0.1:9001', '127.0.0.1:9002'])));
    for (const s of subscriptions) s.dispose();
    await provider.register(SERVICE, instance(9003));
    await first.until(['127.0.0.1:9001', '127.0.0.1:9002', '127.0.0.1:9003']);
    t.ok(others.every((r) => r.last?.length === 2), 'disposed subscribers get nothing more');
  });

  t.test('a malformed provider document is skipped and reported', async (t) => {
    const errors: TrellisError[] = [];
    const consumer = open(t, '/malformed', { onError: (e) => errors.push(e) });
    const provider = open(t, '/malformed');
    await provider.register(SERVICE, instance(9001));
    await zkCall((cb) => raw.create('/malformed/services/default/test.Echo/providers/bad:1', Buffer.from('{not json'), cb));
    t.teardown(() => zkCall((cb) => raw.remove('/malformed/services/default/test.Echo/providers/bad:1', cb)));
    const recorder = new ListRecorder();
    consumer.subscribe(SERVICE, recorder.listener);
    await recorder.until(['127.0.0.1:9001']);
    t.match(errors, [{ code: 'ERR_REGISTRY_MALFORMED_DOCUMENT', message: /malformed provider document at .*bad:1/ }]);
  });

  t.test('a stale ephemeral node from another session is replaced', async (t) => {
    const path = '/stale/services/default/test.Echo/providers/127.0.0.1:9001';
    // A previous incarnation of this provider, still holding its session (crashed moments ago).
    const old = await rawClient(zk.connectString);
    t.teardown(() => closeRaw(old));
    await zkCall((cb) => old.mkdirp('/stale/services/default/test.Echo/providers', cb));
    await zkCall((cb) => old.create(path, Buffer.from(JSON.stringify(instance(9001, { weight: 1 }))), CreateMode.EPHEMERAL, cb));
    const oldOwner = (await readNode(raw, path))?.owner;

    const provider = open(t, '/stale');
    await provider.register(SERVICE, instance(9001, { weight: 100 }));
    const node = await readNode(raw, path);
    t.not(node?.owner, oldOwner);
    t.equal(node?.owner, provider.sessionId, 'now owned by the live session');
    t.equal(JSON.parse(node?.data ?? '{}').weight, 100, 'with the new document');

    // The old session ending must not take the new registration with it.
    await closeRaw(old);
    t.equal((await readNode(raw, path))?.owner, provider.sessionId, 'survives the old session');
  });

  t.test('config documents: watched, re-armed on every change, parents created', async (t) => {
    const registry = open(t, '/cfg');
    const admin = open(t, '/cfg');
    const docs: (string | undefined)[] = [];
    registry.watchConfig(SERVICE, 'routes', (doc) => docs.push(doc));
    await waitFor('initial undefined', () => docs.length === 1);
    t.same(docs, [undefined], 'missing document reads as undefined');

    for (const version of ['v1', 'v2', 'v3']) {
      await admin.putConfig(SERVICE, 'routes', `{"rules":"${version}"}`);
      await waitFor(`document ${version}`, () => docs[docs.length - 1] === `{"rules":"${version}"}`);
    }
    t.equal((await readNode(raw, '/cfg/config/default/test.Echo/routes'))?.data, '{"rules":"v3"}');
    let late: string | undefined;
    registry.watchConfig(SERVICE, 'routes', (doc) => (late = doc));
    await waitFor('a second listener gets the current document', () => late === '{"rules":"v3"}');
    await admin.putConfig(SERVICE, 'routes', undefined);
    await waitFor('deleted', () => docs.length === 5 && docs[4] === undefined);
    t.same(docs, [undefined, '{"rules":"v1"}', '{"rules":"v2"}', '{"rules":"v3"}', undefined]);
  });

  t.test('close() deletes our nodes, releases watches and ends the session; idempotent', async (t) => {
    const before = await mntr();
    const provider = zookeeperRegistry({ connectString: zk.connectString, root: '/close', snapshotDir: false });
    await provider.register(SERVICE, instance(9001));
    provider.subscribe(SERVICE, () => undefined);
    provider.watchConfig(SERVICE, 'routes', () => undefined);
    // A child watch on providers, a data watch on our node, an existence watch on the config document.
    await waitFor('watches armed', async () => (await mntr()).zk_watch_count === before.zk_watch_count + 3);
    t.equal((await mntr()).zk_ephemerals_count, before.zk_ephemerals_count + 1);

    const closing = provider.close();
    t.equal(provider.close(), closing, 'a second close() returns the same promise');
    await closing;
    await provider.close();
    t.equal(provider.connected, false);
    t.same(await children(raw, '/close/services/default/test.Echo/providers'), [], 'node deleted');
    const after = await waitFor('watches released', async () => {
      const now = await mntr();
      return now.zk_watch_count === before.zk_watch_count ? now : undefined;
    });
    t.equal(after.zk_ephemerals_count, before.zk_ephemerals_count, 'no ephemeral node left');
    await waitFor('session closed', async () => (await mntr()).zk_num_alive_connections === before.zk_num_alive_connections);
    await t.rejects(provider.register(SERVICE, instance(9002)), { code: 'ERR_REGISTRY_CLOSED' });
    provider.subscribe(SERVICE, () => t.fail('no delivery after close')).dispose();
  });
});
