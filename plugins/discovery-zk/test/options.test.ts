// Start-up mistakes: bad options and unreachable ensembles fail fast with stable codes. No server needed.
import t from 'tap';
import { TrellisError } from '@trellis/core';
import { refusingPort } from '@trellis/testkit';
import { ZooKeeperRegistry, zookeeperRegistry, type ZooKeeperRegistryOptions } from '../src/index.js';
import { resolveOptions } from '../src/options.js';
import { instance, SERVICE } from './fixtures/helpers.js';

t.test('bad options throw ERR_INVALID_OPTION naming the option', async (t) => {
  const cases: [string, Record<string, unknown>][] = [
    ['connectString', { connectString: undefined }],
    ['connectString', { connectString: '' }],
    ['connectString', { connectString: 'localhost' }],
    ['connectString', { connectString: 'localhost:99999' }],
    ['connectString', { connectString: 'a:1,,b:2' }],
    ['connectString', { connectString: 'a:1/chroot/' }],
    ['root', { root: 'trellis' }],
    ['root', { root: '/trellis/' }],
    ['root', { root: '/a//b' }],
    ['sessionTimeoutMs', { sessionTimeoutMs: -1 }],
    ['connectTimeoutMs', { connectTimeoutMs: Number.NaN }],
    ['debounceMs', { debounceMs: -5 }],
    ['snapshotDir', { snapshotDir: '' }],
    ['backoff.jitter', { backoff: { jitter: 2 } }],
    ['onError', { onError: 'log' }],
    ['fleetSize', { fleetSize: 0 }],
    ['fleetSize', { fleetSize: 2.5 }],
  ];
  for (const [name, options] of cases) {
    t.throws(
      () => new ZooKeeperRegistry({ connectString: '127.0.0.1:2181', ...options } as unknown as ZooKeeperRegistryOptions),
      { name: 'TrellisError', code: 'ERR_INVALID_OPTION', message: new RegExp(`option "${name.replace('.', '\\.')}"`) },
      `${name}: ${JSON.stringify(options)}`,
    );
  }
  t.throws(() => zookeeperRegistry(undefined as unknown as ZooKeeperRegistryOptions), { code: 'ERR_INVALID_OPTION' });
  t.doesNotThrow(() => zookeeperRegistry({ connectString: 'zk1:2181,zk2:2181,[::1]:2181/chroot', snapshotDir: false }));
});

t.test('reconnect pacing: the spread grows with the fleet, redials pause at most a third of the session timeout', async (t) => {
  const pacing = (options: Partial<ZooKeeperRegistryOptions>) => {
    const resolved = resolveOptions({ connectString: '127.0.0.1:2181', ...options });
    return { max: resolved.backoff.maxMs, redial: resolved.redialBackoff.maxMs, jitter: resolved.backoff.jitter };
  };
  t.same(pacing({}), { max: 3000, redial: 3000, jitter: 0.5 }, '500 clients: 3 s, inside a third of the 15 s session');
  t.same(pacing({ fleetSize: 5000 }), { max: 30_000, redial: 5000, jitter: 0.5 }, '5,000 clients: 30 s, but redials every 5 s at most');
  t.same(pacing({ fleetSize: 10, sessionTimeoutMs: 2000 }), { max: 1000, redial: 2000 / 3, jitter: 0.5 }, 'at least 1 s; a short session caps the redials');
  t.same(pacing({ backoff: { maxMs: 600 } }), { max: 600, redial: 600, jitter: 0.5 }, 'an explicit maxMs');
});

t.test('bad services and instances are refused before touching ZooKeeper', async (t) => {
  const registry = zookeeperRegistry({ connectString: '127.0.0.1:1', snapshotDir: false });
  t.teardown(() => registry.close());
  t.throws(() => registry.subscribe({ group: 'a/b', name: 'x' }, () => undefined), { code: 'ERR_SERVICE_INVALID' });
  t.throws(() => registry.watchConfig(SERVICE, '../routes', () => undefined), { code: 'ERR_SERVICE_INVALID', message: /config name/ });
  await t.rejects(registry.register(SERVICE, instance(0)), { code: 'ERR_SERVICE_INVALID', message: /port 0/ });
  await t.rejects(registry.register(SERVICE, instance(80, { host: 'a/b' })), { code: 'ERR_SERVICE_INVALID', message: /host "a\/b"/ });
  await t.rejects(registry.register({ ...SERVICE, name: '' }, instance(80)), { code: 'ERR_SERVICE_INVALID' });
});

t.test('an unreachable ensemble fails with ERR_REGISTRY_UNREACHABLE within connectTimeoutMs', async (t) => {
  const dead = await refusingPort(); // nothing listens there, and no other process can while it is held
  t.teardown(() => dead.close());
  const port = dead.port;
  const address = `127.0.0.1:${port}`;
  const errors: TrellisError[] = [];
  const registry = zookeeperRegistry({ connectString: address, connectTimeoutMs: 300, snapshotDir: false, onError: (e) => errors.push(e) });
  const delivered: unknown[] = [];
  registry.subscribe(SERVICE, (list) => delivered.push(list));

  for (const [what, call] of [
    ['connect()', () => registry.connect()],
    ['register()', () => registry.register(SERVICE, instance(9001))],
    ['putConfig()', () => registry.putConfig(SERVICE, 'routes', '{}')],
  ] as const) {
    // Order, not a clock, for the upper bound: the call must give up before a sentinel timer of 1 s
    // set just before it. The give-up is the connectTimeoutMs (300) timer the call sets, and its
    // rejection reaches this await in microtasks, which run before the next timer; timers fire in the
    // order they fall due and a stall delays them all alike, so a stalled CI machine cannot let the
    // sentinel win. A call bounded by anything longer lets it fire first: the client's own session
    // retries (a 15 s session), the 3 s default in place of the option, or no bound at all (the test
    // then times out).
    let sentinelFired = false;
    const sentinel = setTimeout(() => (sentinelFired = true), 1000);
    const startedAt = Date.now();
    const error = await call().then(
      () => undefined,
      (e: unknown) => e,
    );
    const elapsed = Date.now() - startedAt;
    clearTimeout(sentinel);
    t.type(error, TrellisError, what);
    t.match(error, { code: 'ERR_REGISTRY_UNREACHABLE', message: new RegExp(address.replace(/\./g, '\\.')) }, `${what} names the address`);
    t.notOk(sentinelFired, `${what} gave up within connectTimeoutMs, before the 1 s sentinel (after ${elapsed} ms)`);
    // Not at the first refused dial: it waited out connectTimeoutMs. A stall only lengthens elapsed.
    t.ok(elapsed >= 250, `${what} gave up after ${elapsed} ms, not before connectTimeoutMs`);
  }
  t.same(delivered, [], 'no snapshot, no list: a consumer is never handed an invented empty list');
  t.same(errors, [], 'nothing reported for what was thrown');
  // deregister() never fails on an outage (the node goes with the session anyway); it reports it.
  await registry.deregister(SERVICE, instance(9001));
  t.match(errors, [{ code: 'ERR_REGISTRY_UNREACHABLE' }]);
  // Order, not a clock: close() must settle before a sentinel timer of 1 s set just before it. Timers
  // fire in the order they fall due and a stall delays them all alike, so a stalled CI machine cannot
  // let the sentinel win over a close() that waits on nothing; a close() that waited for the server
  // (the graceful close's 2 s wait for 'disconnected', the session timeout, a hang) lets it fire first.
  let sentinelFired = false;
  const sentinel = setTimeout(() => (sentinelFired = true), 1000);
  const closedAt = Date.now();
  await registry.close();
  clearTimeout(sentinel);
  t.notOk(sentinelFired, `close() does not wait for the unreachable server (${Date.now() - closedAt} ms)`);
  await t.rejects(registry.connect(), { code: 'ERR_REGISTRY_CLOSED' });
});

t.test('an unresolvable host is bounded the same way', async (t) => {
  const registry = zookeeperRegistry({ connectString: 'zk.invalid:2181', connectTimeoutMs: 300, snapshotDir: false });
  t.teardown(() => registry.close());
  const startedAt = Date.now();
  // The connect timeout is what ended it: the message names its budget (the 3 s default in place of
  // the option would say 3000 ms).
  await t.rejects(registry.connect(), { code: 'ERR_REGISTRY_UNREACHABLE', message: /zk\.invalid:2181.*within 300 ms/ });
  // Only a connect() left hanging fails this: 5.7 s of room for a stalled CI machine (it was 2.7 s).
  t.ok(Date.now() - startedAt < 300 + 5700, `bounded (${Date.now() - startedAt} ms)`);
});
