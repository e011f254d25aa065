import t from 'tap';
import { Code, MemoryRegistry, RpcClient, RpcError, RpcServer } from '@trellis/core';
import { createEchoHandlers, loadEchoService } from '@trellis/testkit';
import { limiter, type LimiterOptions } from '../src/index.js';

const ECHO = loadEchoService();
const SERVICE = 'trellis.test.EchoService';
const QUERY = { group: 'default', name: SERVICE };

/** An in-process provider with the limiter, and a way to make clients of it. */
async function setup(t: { teardown(fn: () => unknown): void }, options: LimiterOptions) {
  const registry = new MemoryRegistry();
  const ran = { Echo: 0, Mutate: 0 };
  const errors: Error[] = [];
  const plugin = limiter({ onError: (e) => errors.push(e), ...options });
  const server = new RpcServer({ host: '127.0.0.1', advertiseHost: '127.0.0.1', registry, plugins: [plugin] });
  server.addService(ECHO, createEchoHandlers({ servedBy: 'p', onCall: (method) => void ran[method as 'Echo' | 'Mutate']++ }));
  await server.start();
  const clients: RpcClient[] = [];
  t.teardown(async () => {
    for (const c of clients) await c.close();
    await server.close({ graceMs: 100 });
  });
  const client = (options: { caller?: string } = {}) => {
    const c = new RpcClient({ service: ECHO, registry, ...options });
    clients.push(c);
    return (method = 'Echo', request: object = {}, metadata?: Record<string, string>) =>
      c.invoke(method, request, { metadata }).then(() => 'ok', (e: RpcError) => e);
  };
  return { registry, plugin, ran, errors, client };
}

const refused = (e: unknown) => e instanceof RpcError && e.code === Code.RESOURCE_EXHAUSTED && !e.mayHaveRun;

t.test('a fixed concurrency limit turns away calls beyond it, before they run', async (t) => {
  const { client, ran, plugin } = await setup(t, { services: { [SERVICE]: { methods: { Echo: { maxConcurrency: 2 } } } } });
  const call = client();
  const results = await Promise.all([1, 2, 3, 4, 5].map(() => call('Echo', { delayMs: 500 })));
  t.equal(results.filter((r) => r === 'ok').length, 2);
  const rejections = results.filter(refused) as RpcError[];
  t.equal(rejections.length, 3);
  t.equal(rejections[0]!.message, 'concurrency limit of 2 in-flight calls reached for trellis.test.EchoService/Echo; the call did not run');
  t.equal(ran.Echo, 2, 'only the accepted calls reached the handler');
  t.equal(await call('Mutate'), 'ok', 'Mutate has no limit');
  t.match(plugin.snapshot(), [{ scope: 'trellis.test.EchoService/Echo', concurrency: 'constant', maxConcurrency: 2, inflight: 0, accepted: 2, rejected: 3 }]);
});

t.test('the adaptive limiter starts at its initial limit and says so when it turns calls away', async (t) => {
  const { client, plugin } = await setup(t, { services: { '*': { maxConcurrency: { algorithm: 'auto', initialMaxConcurrency: 3, minConcurrency: 3 } } } });
  const call = client();
  const results = await Promise.all([1, 2, 3, 4, 5, 6].map(() => call('Echo', { delayMs: 500 })));
  t.equal(results.filter((r) => r === 'ok').length, 3);
  t.match(results.find(refused), { message: 'adaptive concurrency limit of 3 in-flight calls reached for trellis.test.EchoService; the call did not run' });
  t.match(plugin.snapshot(), [{ scope: SERVICE, concurrency: 'auto', maxConcurrency: 3, auto: { limit: 3, inflight: 0, minLatencyMs: -1 } }], "'*' applies to every service");
});

t.test('per-caller buckets, named callers, and a custom caller key', async (t) => {
  const { client } = await setup(t, { services: { [SERVICE]: { perCaller: { qps: 1, burst: 2 }, callers: { vip: { qps: 1000, burst: 50 } } } } });
  const a = client({ caller: 'a' });
  const b = client({ caller: 'b' });
  t.same([await a(), await a()], ['ok', 'ok']);
  const third = await a();
  t.ok(refused(third));
  t.equal((third as RpcError).message, 'caller "a" reached its rate limit of 1 calls/s on trellis.test.EchoService; the call did not run');
  t.same([await b(), await b()], ['ok', 'ok'], 'b has a bucket of its own');
  const anonymous = client();
  await anonymous();
  await anonymous();
  t.match(await anonymous(), { message: /^caller \(anonymous\) reached/ }, 'calls without a caller share one bucket');
  const vip = client({ caller: 'vip' });
  for (let i = 0; i < 20; i++) t.equal(await vip(), 'ok');

  const tenants = await setup(t, { callerKey: 'x-tenant', services: { [SERVICE]: { perCaller: { qps: 1, burst: 1 } } } });
  const call = tenants.client({ caller: 'ignored' });
  t.equal(await call('Echo', {}, { 'x-tenant': 't1' }), 'ok');
  t.ok(refused(await call('Echo', {}, { 'x-tenant': 't1' })));
  t.equal(await call('Echo', {}, { 'x-tenant': 't2' }), 'ok', 'callers are told apart by x-tenant');
});

t.test('service and method limits add up, and a refused call gives its tokens back', async (t) => {
  const { client, ran } = await setup(t, { services: { [SERVICE]: { qps: 1, burst: 3, methods: { Echo: { qps: 1, burst: 1 } } } } });
  const call = client();
  t.equal(await call('Echo'), 'ok'); // service 2 left, Echo 0
  t.match(await call('Echo'), { code: Code.RESOURCE_EXHAUSTED, message: /reached for trellis\.test\.EchoService\/Echo;/ });
  t.equal(await call('Mutate'), 'ok', 'the refused Echo did not use up a service token');
  t.equal(await call('Mutate'), 'ok');
  t.match(await call('Mutate'), { message: /^rate limit of 1 calls\/s \(burst 3\) reached for trellis\.test\.EchoService;/ });
  t.same(ran, { Echo: 1, Mutate: 2 });
});

t.test('limits load live from the registry; bad documents are reported; null removes a limit', async (t) => {
  const { client, registry, errors, plugin } = await setup(t, { services: { [SERVICE]: { methods: { Mutate: { qps: 1, burst: 1 } } } } });
  const call = client();
  t.equal(await call('Echo'), 'ok', 'the first call starts the watch');
  await registry.putConfig(QUERY, 'limits', JSON.stringify({ methods: { Echo: { qps: 1, burst: 1 } } }));
  t.equal(await call('Echo'), 'ok');
  t.ok(refused(await call('Echo')), 'the document limits Echo now');
  t.equal(await call('Mutate'), 'ok');
  t.ok(refused(await call('Mutate')), "the code's Mutate limit is still there: the document is merged over it");

  await registry.putConfig(QUERY, 'limits', JSON.stringify({ qps: -5 }));
  t.equal(errors[0]?.message, 'limits document /trellis/config/default/trellis.test.EchoService/limits: "qps" is -5; expected a finite number > 0; the previous settings stay in force');
  await registry.putConfig(QUERY, 'limits', JSON.stringify({ methods: { Echo: { maxConcurrency: 'lots' } } }));
  t.match(errors[1]?.message, /"methods\.Echo\.maxConcurrency" is "lots"; expected an integer from 1/);
  t.ok(refused(await call('Echo')), 'still limited after the bad documents');

  await registry.putConfig(QUERY, 'limits', JSON.stringify({ methods: { Mutate: null } }));
  for (let i = 0; i < 5; i++) t.equal(await call('Mutate'), 'ok', 'null removed the code’s Mutate limit');
  t.same(plugin.snapshot().map((g) => g.scope), [], 'and the document no longer limits Echo');
  await registry.putConfig(QUERY, 'limits', undefined);
  t.equal(await call('Mutate'), 'ok');
  t.ok(refused(await call('Mutate')), 'deleted: back to the code’s rule');
  t.equal(errors.length, 2);
});

t.test('bad options throw ERR_INVALID_OPTION naming the option', async (t) => {
  const bad: [LimiterOptions, RegExp][] = [
    [{ services: { [SERVICE]: { qps: 0 } } }, /limiter option "services\["trellis\.test\.EchoService"\]\.qps" is 0; expected a finite number > 0/],
    [{ services: { x: { burst: 5 } } }, /"services\.x\.burst" is 5; expected "services\.x\.qps" alongside it/],
    [{ services: { x: { maxConcurrency: 0 } } }, /"services\.x\.maxConcurrency" is 0/],
    [{ services: { x: { maxConcurrency: { algorithm: 'gradient' } as never } } }, /"services\.x\.maxConcurrency\.algorithm" is "gradient"; expected 'auto'/],
    [{ services: { x: { maxConcurrency: { algorithm: 'auto', minSamples: 300 } } } }, /"services\.x\.maxConcurrency\.maxSamples" is 200; expected a number ≥ minSamples \(300\)/],
    [{ services: { x: { perCaller: { burst: 2 } as never } } }, /"services\.x\.perCaller\.qps" is undefined/],
    [{ services: { x: { methods: { Echo: { qpz: 1 } as never } } } }, /"services\.x\.methods\.Echo\.qpz" is 1; expected one of the known keys \(did you mean "qps"\?\): qps, burst/],
    [{ callerKey: 'X-Caller' }, /"callerKey" is "X-Caller"; expected a lower-case metadata key/],
    [{ maxCallers: 0 }, /"maxCallers" is 0/],
    [{ failureCodes: ['nope'] }, /"failureCodes\[0\]" is "nope"/],
  ];
  for (const [options, message] of bad) t.throws(() => limiter(options), { code: 'ERR_INVALID_OPTION', message }, message.source);
});
