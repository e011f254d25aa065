import { createServer, type Socket } from 'node:net';
import t from 'tap';
import { refusingPort, startEtcd, type EtcdServer } from '@trellis/testkit';
import { EtcdErrorCodes, EtcdRegistry, etcdRegistry, type EtcdRegistryOptions } from '../src/index.js';
import { Lists, SERVICE, instance, makeRegistry, waitFor } from './fixtures/helpers.js';

const unhandled: unknown[] = [];
process.on('unhandledRejection', (reason) => unhandled.push(reason));

let etcd: EtcdServer;
t.before(async () => {
  etcd = await startEtcd();
});
t.teardown(() => etcd?.stop());

t.test('bad options fail at construction with ERR_INVALID_OPTION', async (t) => {
  const bad: [string, EtcdRegistryOptions][] = [
    ['ttl 0', { ttlSeconds: 0 }],
    ['ttl 1 (below etcd minimum)', { ttlSeconds: 1 }],
    ['fractional ttl', { ttlSeconds: 2.5 }],
    ['ttl as a string', { ttlSeconds: '10' as unknown as number }],
    ['empty endpoints', { endpoints: '' }],
    ['endpoint without scheme', { endpoints: 'localhost:2379' }],
    ['endpoint without port', { endpoints: 'http://localhost' }],
    ['endpoint with a path', { endpoints: 'http://localhost:2379/v3' }],
    ['ftp endpoint', { endpoints: 'ftp://localhost:2379' }],
    ['garbage in a list', { endpoints: 'http://a:1, nope' }],
    ['empty array', { endpoints: [] }],
    ['mixed http and https', { endpoints: ['http://a:1', 'https://b:2'] }],
    ['root without leading slash', { root: 'trellis' }],
    ['root with trailing slash', { root: '/trellis/' }],
    ['negative connect timeout', { connectTimeoutMs: -1 }],
    ['NaN request timeout', { requestTimeoutMs: Number.NaN }],
    ['negative debounce', { debounceMs: -5 }],
    ['zero check interval', { checkIntervalMs: 0 }],
    ['bad backoff jitter', { backoff: { jitter: 2 } }],
    ['empty snapshot dir', { snapshotDir: '' }],
    ['fleet of 0', { fleetSize: 0 }],
    ['fractional fleet', { fleetSize: 1.5 }],
  ];
  for (const [what, options] of bad) {
    t.throws(() => new EtcdRegistry(options), { code: EtcdErrorCodes.INVALID_OPTION }, what);
  }
  const error = t.throws(() => etcdRegistry({ ttlSeconds: 0 })) as Error;
  t.match(error.message, /ttlSeconds.*whole number of seconds/, 'the message says what to change');

  const ok = etcdRegistry({ endpoints: 'http://127.0.0.1:1, http://127.0.0.1:2', debounceMs: 0, snapshotDir: false });
  t.same(ok.options.endpoints, ['http://127.0.0.1:1', 'http://127.0.0.1:2']);
  t.equal(ok.options.ttlSeconds, 10);
  t.equal(ok.options.root, '/trellis');
  t.equal(ok.options.connectTimeoutMs, 3000);
  await ok.close();
});

t.test('reconnect pacing: the spread grows with the fleet, the lease keepalive retries within a third of the TTL', async (t) => {
  const pacing = (options: EtcdRegistryOptions) => {
    const registry = etcdRegistry({ snapshotDir: false, ...options });
    void registry.close();
    return { max: registry.options.backoff.maxMs, lease: registry.options.leaseBackoff.maxMs, jitter: registry.options.backoff.jitter };
  };
  t.same(pacing({}), { max: 3000, lease: 3000, jitter: 0.5 }, '500 clients: 3 s, inside a third of the 10 s TTL');
  t.same(pacing({ fleetSize: 5000 }), { max: 30_000, lease: 10_000 / 3, jitter: 0.5 }, '5,000 clients: 30 s, but keepalives every 3.3 s at most');
  t.same(pacing({ fleetSize: 10 }), { max: 1000, lease: 1000, jitter: 0.5 }, 'at least 1 s');
  t.same(pacing({ ttlSeconds: 3, backoff: { maxMs: 10_000 } }), { max: 10_000, lease: 1000, jitter: 0.5 }, 'an explicit maxMs, and the TTL cap');
});

t.test('nothing listening: register() fails with ERR_REGISTRY_UNREACHABLE after connectTimeoutMs', async (t) => {
  const dead = await refusingPort(); // refused, and held so no other process (an etcd) can listen there
  t.teardown(() => dead.close());
  const port = dead.port;
  const registry = makeRegistry(t, `http://127.0.0.1:${port}`, { connectTimeoutMs: 600 });
  const started = Date.now();
  const error = (await registry.register(SERVICE, instance(9001)).catch((e: unknown) => e)) as { code: string; message: string };
  const took = Date.now() - started;
  t.equal(error.code, EtcdErrorCodes.REGISTRY_UNREACHABLE);
  t.match(error.message, `http://127.0.0.1:${port}`, 'the message names the address');
  // The connect timeout is what ended it (its retry loop names its budget): the 3 s default in place
  // of the option would say 3000 ms, whatever the clock says.
  t.match(error.message, 'register within 600 ms', 'the connect timeout was the budget');
  // No longer: 4 s beyond the timeout for a stalled CI machine (it was 2.5 s), still below the 5 s
  // default requestTimeoutMs, so an attempt not cut at the connect deadline fails it, and far below
  // etcd3's own retries.
  t.ok(took >= 550 && took < 600 + 4000, `it waited the connect timeout, no longer (${took} ms)`);
  t.equal(registry.leaseId, undefined);
});

t.test('a server that accepts and never answers: the wait is bounded all the same', async (t) => {
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    silent.close();
  });
  const { port } = silent.address() as { port: number };
  const registry = makeRegistry(t, `http://127.0.0.1:${port}`, { connectTimeoutMs: 600 });
  const started = Date.now();
  // The connect timeout ended it (see above), not an attempt's own request timeout.
  await t.rejects(registry.register(SERVICE, instance(9002)), { code: EtcdErrorCodes.REGISTRY_UNREACHABLE, message: /register within 600 ms/ });
  const took = Date.now() - started;
  // An attempt that never answers is cut at the connect deadline: without that cut it would run the
  // 5 s default requestTimeoutMs, which this bound (4 s of room for a stalled CI machine) still fails.
  t.ok(took < 600 + 4000, `bounded (${took} ms)`);
  const closing = Date.now();
  await registry.close();
  t.ok(Date.now() - closing < 4000, 'close() is bounded too');
});

t.test('a hung etcd (SIGSTOP): register fails in time, subscribe waits quietly, both recover on SIGCONT', async (t) => {
  const provider = makeRegistry(t, etcd.endpoints, { root: '/s1', connectTimeoutMs: 600, requestTimeoutMs: 400 });
  const consumer = makeRegistry(t, etcd.endpoints, { root: '/s1', requestTimeoutMs: 400 });
  await etcd.kill('SIGSTOP');
  t.teardown(() => etcd.kill('SIGCONT'));
  const lists = new Lists();
  consumer.subscribe(SERVICE, lists.listener);
  const started = Date.now();
  await t.rejects(provider.register(SERVICE, instance(9101)), { code: EtcdErrorCodes.REGISTRY_UNREACHABLE, message: /register within 600 ms/ });
  // A register() left waiting on the hung etcd never settles: 4 s of room for a stalled CI machine.
  t.ok(Date.now() - started < 600 + 4000, 'within the connect timeout');
  t.equal(lists.all.length, 0, 'no list while etcd does not answer');

  await etcd.kill('SIGCONT');
  await lists.until([], 5000);
  await provider.register(SERVICE, instance(9101));
  await lists.until(['127.0.0.1:9101']);
});

t.test('a registry whose etcd never comes up does not crash anything and closes promptly', async (t) => {
  const dead = await refusingPort(); // refused, and held so no other process (an etcd) can listen there
  t.teardown(() => dead.close());
  const port = dead.port;
  const registry = makeRegistry(t, `http://127.0.0.1:${port}`, { connectTimeoutMs: 300 });
  const lists = new Lists();
  registry.subscribe(SERVICE, lists.listener);
  registry.watchConfig(SERVICE, 'routes', () => undefined);
  await t.rejects(registry.putConfig(SERVICE, 'routes', 'x'), { code: EtcdErrorCodes.REGISTRY_UNREACHABLE });
  await waitFor('the outage to be reported', () => registry.errors.some((e) => e.code === EtcdErrorCodes.REGISTRY_UNREACHABLE));
  const closing = Date.now();
  await registry.close();
  // 4.5 s (it was 3 s) for a stalled CI machine: still below the 5 s default requestTimeoutMs, so a
  // close() that waited out a request to the dead address fails it, and one that waited for etcd
  // never resolves.
  const took = Date.now() - closing;
  t.ok(took < 4500, `close() does not wait for etcd (${took} ms)`);
  t.equal(lists.all.length, 0);
});

t.test('no unhandled rejections along the way', async (t) => {
  t.same(unhandled, []);
});
