import t from 'tap';
import { Code, MemoryRegistry, RpcClient, RpcError } from '@trellis/core';
import { loadEchoService } from '@trellis/testkit';
import { breaker, type BreakerEvent } from '../src/index.js';
import { SkippingClock } from './fixtures/clocks.js';
import { startPatternProvider } from './fixtures/providers.js';

const ECHO = loadEchoService();
const QUERY = { group: 'default', name: 'trellis.test.EchoService' };

async function setup(t: { teardown(fn: () => unknown): void }, options: Parameters<typeof breaker>[0] = {}) {
  const registry = new MemoryRegistry();
  const provider = await startPatternProvider('p', registry);
  const events: BreakerEvent[] = [];
  const errors: Error[] = [];
  const plugin = breaker({ endpoint: false, minCalls: 10, coolDownMs: 60_000, maxCoolDownMs: 60_000, onError: (e) => errors.push(e), ...options });
  plugin.onStateChange((e) => events.push(e));
  const client = new RpcClient({ service: ECHO, registry, plugins: [plugin] });
  t.teardown(async () => {
    await client.close();
    await provider.server.close({ graceMs: 100 });
  });
  const call = (method = 'Echo') => client.invoke(method, { message: 'x' }).then(() => 'ok', (e: RpcError) => e);
  return { registry, provider, plugin, client, events, errors, call };
}

t.test('an open method circuit fails fast with UNAVAILABLE naming it; other methods are not affected', async (t) => {
  const { provider, events, call, plugin } = await setup(t);
  provider.behave({ failures: 1, period: 1 });
  for (let i = 0; i < 9; i++) await call();
  // The circuit opens as the tenth call ends, on the client's clock (performance.now()): what is left
  // of the cool-down is checked against the time since, not against a fixed second (a loaded machine
  // can stall that long between two calls, and 59.x s would then read 58.x).
  const beforeOpening = performance.now();
  await call();
  t.match(events, [{ kind: 'method', key: 'trellis.test.EchoService/Echo', from: 'closed', to: 'open', reason: '10 of 10 calls failed (100 %) in the last 10 s' }]);
  const error = await call();
  const leftAtError = 60_000 - (performance.now() - beforeOpening);
  t.type(error, RpcError);
  t.match(error, { code: Code.UNAVAILABLE, mayHaveRun: false, message: /^circuit open for trellis\.test\.EchoService\/Echo \(half-open in \d+(\.\d)? s, cool-down 60 s\); the call was not sent$/ });
  // (the message rounds to a tenth of a second: 0.05 s either way)
  const said = Number(/half-open in ([\d.]+) s/.exec((error as RpcError).message)?.[1]) * 1000;
  t.ok(said <= 60_000 && said >= leftAtError - 50, `the message says what is left of the cool-down (${said} ms; at least ${leftAtError.toFixed(0)} ms)`);
  t.equal(provider.calls.Echo, 10, 'the rejected call never left the client');
  provider.behave('healthy');
  t.equal(await call('Mutate'), 'ok', 'Mutate has its own circuit');
  t.same(plugin.states().map((s) => [s.key, s.state]).sort(), [['trellis.test.EchoService/Echo', 'open'], ['trellis.test.EchoService/Mutate', 'closed']]);
  const open = plugin.states().find((s) => s.state === 'open')!;
  const left = 60_000 - (performance.now() - beforeOpening);
  t.ok(open.halfOpenInMs >= left && open.halfOpenInMs <= 60_000, `states() says when it turns half-open (${open.halfOpenInMs.toFixed(0)} ms; at least ${left.toFixed(0)} ms)`);
});

t.test("scope 'service' keys one circuit by the service; methods can be exempted", async (t) => {
  const { provider, events, call } = await setup(t, { scope: 'service' });
  provider.behave({ failures: 1, period: 1 });
  for (let i = 0; i < 10; i++) await call(i % 2 ? 'Echo' : 'Mutate');
  t.match(events, [{ key: 'trellis.test.EchoService', to: 'open' }]);
  t.match(await call('Mutate'), { message: /^circuit open for trellis\.test\.EchoService \(/ });

  const exempt = await setup(t, { methods: { Mutate: false } });
  exempt.provider.behave({ failures: 1, period: 1 });
  for (let i = 0; i < 20; i++) await exempt.call('Mutate');
  t.same(exempt.events, [], 'no circuit for an exempted method');
  t.equal(exempt.provider.calls.Mutate, 20);
});

t.test('settings load live from the registry; a bad document is reported and the previous settings stay', async (t) => {
  const { registry, provider, events, errors, call, client } = await setup(t, { errorRatio: 0.9 });
  await client.start();
  provider.behave({ failures: 3, period: 5 }); // 60 %: below the code's 0.9
  for (let i = 0; i < 30; i++) await call();
  t.same(events, [], 'closed at errorRatio 0.9');

  await registry.putConfig(QUERY, 'breaker', '{ "errorRatio": 7 }');
  t.equal(errors.length, 1);
  t.equal(errors[0]!.message, 'breaker document /trellis/config/default/trellis.test.EchoService/breaker: "errorRatio" is 7; expected a number in (0, 1], e.g. 0.5 for 50 %; the previous settings stay in force');
  await registry.putConfig(QUERY, 'breaker', '{ "errorRatio": 0.5, "minCallz": 3 }');
  t.match(errors[1]!.message, /"minCallz" is 3; expected one of the known keys \(did you mean "minCalls"\?\): windowMs, buckets, minCalls/);
  await registry.putConfig(QUERY, 'breaker', '{ not json');
  t.match(errors[2], { code: 'ERR_INVALID_OPTION', message: /is not valid JSON/ });
  for (let i = 0; i < 30; i++) await call();
  t.same(events, [], 'rejected documents changed nothing');

  await registry.putConfig(QUERY, 'breaker', JSON.stringify({ errorRatio: 0.5, methods: { Echo: { minCalls: 5 } } }));
  for (let i = 0; i < 10 && events.length === 0; i++) await call();
  t.match(events, [{ key: 'trellis.test.EchoService/Echo', to: 'open' }], 'the document took effect');
  t.equal(errors.length, 3);

  await registry.putConfig(QUERY, 'breaker', '{ "enabled": false }');
  const before = provider.calls.Echo;
  for (let i = 0; i < 10; i++) await call();
  t.equal(provider.calls.Echo, before + 10, 'an emergency off switch: every call reaches the provider again');
  t.equal(events.length, 1);
});

t.test('the cool-down passes on the breaker clock; listeners can be removed', async (t) => {
  const clock = new SkippingClock();
  const { provider, events, call, plugin } = await setup(t, { clock, halfOpenProbes: 2 });
  const seen: string[] = [];
  const subscription = plugin.onStateChange((e) => seen.push(e.to));
  provider.behave({ failures: 1, period: 1 });
  for (let i = 0; i < 10; i++) await call();
  provider.behave('healthy');
  clock.skip(60_000);
  subscription.dispose();
  t.equal(await call(), 'ok');
  t.equal(await call(), 'ok');
  t.same(events.map((e) => e.to), ['open', 'half-open', 'closed']);
  t.same(seen, ['open'], 'a disposed listener hears nothing more');
});

t.test('isFailure decides instead of failureCodes; a document with failureCodes overrides it', async (t) => {
  const { registry, provider, events, call } = await setup(t, { isFailure: (e) => e.code === Code.NOT_FOUND });
  provider.behave({ failures: 1, period: 1, code: Code.NOT_FOUND });
  for (let i = 0; i < 10; i++) await call('Mutate');
  t.match(events, [{ key: 'trellis.test.EchoService/Mutate', to: 'open' }]);
  await registry.putConfig(QUERY, 'breaker', '{ "failureCodes": ["UNAVAILABLE"] }');
  for (let i = 0; i < 20; i++) await call('Echo');
  t.equal(events.length, 1, 'NOT_FOUND no longer counts');
});

t.test('bad options throw ERR_INVALID_OPTION naming the option', async (t) => {
  const bad: [Parameters<typeof breaker>[0], RegExp][] = [
    [{ errorRatio: 0 }, /breaker option "errorRatio" is 0; expected a number in \(0, 1\]/],
    [{ minCalls: 1.5 }, /"minCalls" is 1.5; expected an integer from 1/],
    [{ coolDownMs: 5000, maxCoolDownMs: 1000 }, /"maxCoolDownMs" is 1000; expected a number ≥ coolDownMs \(5000\)/],
    [{ endpoint: { halfOpenProbes: 0 } }, /"endpoint.halfOpenProbes" is 0/],
    [{ windowMs: 5, buckets: 10 }, /"buckets" is 10; expected at most windowMs/],
    [{ scope: 'node' as 'service' }, /"scope" is "node"; expected 'method' or 'service'/],
    [{ failureCodes: ['UNAVAILABLE', 'NOPE'] }, /"failureCodes\[1\]" is "NOPE"/],
    [{ failureCodes: ['OK'] }, /"failureCodes\[0\]" is "OK"/],
    [{ isFailure: () => true, failureCodes: [14] }, /either isFailure or failureCodes/],
    [{ clock: {} as never }, /"clock"/],
    [{ config: '' }, /"config" is ""/],
    [{ windowMS: 10 } as never, /"windowMS" is 10; expected one of the known keys \(did you mean "windowMs"\?\)/],
  ];
  for (const [options, message] of bad) t.throws(() => breaker(options), { code: 'ERR_INVALID_OPTION', message }, message.source);
});

t.test('on the client clock every call is counted once in its circuit\'s window, a probe that closes it not at all', async (t) => {
  // No clock option: the closed circuit's calls pass the interceptor untouched and are recorded when
  // the kernel reports their end; probes (half-open) are recorded by the interceptor, once.
  const { provider, events, call, plugin } = await setup(t, { minCalls: 4, coolDownMs: 30, maxCoolDownMs: 30, halfOpenProbes: 1 });
  const echo = () => plugin.states().find((s) => s.key === 'trellis.test.EchoService/Echo')!;
  for (let i = 0; i < 3; i++) t.equal(await call(), 'ok');
  t.match(echo(), { state: 'closed', calls: 3, failures: 0 }, 'three successes, counted once each');
  provider.behave({ failures: 1, period: 1 });
  t.type(await call(), RpcError);
  t.match(echo(), { state: 'closed', calls: 4, failures: 1 });
  for (let i = 0; i < 3; i++) await call();
  t.match(events, [{ key: 'trellis.test.EchoService/Echo', to: 'open' }]);
  provider.behave('healthy');
  // The cool-down is a time the circuit waits out (30 ms); waiting longer only makes it surer.
  await new Promise((resolve) => setTimeout(resolve, 120));
  t.equal(await call(), 'ok', 'the probe call succeeded');
  t.match(events.map((e) => e.to), ['open', 'half-open', 'closed']);
  t.match(echo(), { state: 'closed', calls: 0, failures: 0 }, 'the probe that closed the circuit is not counted in the fresh window');
  t.equal(await call(), 'ok');
  t.match(echo(), { state: 'closed', calls: 1 }, 'the next call is');
});
