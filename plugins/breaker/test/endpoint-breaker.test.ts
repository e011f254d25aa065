import t from 'tap';
import { Code, RpcClient, RpcError, type Endpoint, type Invocation } from '@trellis/core';
import { loadEchoService } from '@trellis/testkit';
import { breaker, type BreakerEvent } from '../src/index.js';
import { BreakerConfig } from '../src/breaker-config.js';
import { CircuitSet } from '../src/circuit-set.js';
import { EndpointBreaker } from '../src/endpoint-breaker.js';
import { FakeClock, SkippingClock } from './fixtures/clocks.js';
import { cluster, echo } from './fixtures/providers.js';

const ECHO = loadEchoService();

t.test('a provider failing 60 % of calls trips its breaker, gets no calls, is probed half-open and taken back', async (t) => {
  const { registry, providers: [a, b] } = await cluster(t, ['a', 'b']);
  const clock = new SkippingClock();
  const events: BreakerEvent[] = [];
  const plugin = breaker({ clock, minCalls: 20, errorRatio: 0.5, windowMs: 10_000, coolDownMs: 60_000, maxCoolDownMs: 600_000 });
  plugin.onStateChange((e) => events.push(e));
  const client = new RpcClient({ service: ECHO, registry, plugins: [plugin] });
  t.teardown(() => client.close());
  b!.behave({ failures: 3, period: 5 }); // 60 %, deterministically

  // Round robin alternates a and b; b's circuit must open within its window of 10 s.
  for (let i = 0; i < 200 && !events.some((e) => e.to === 'open'); i++) await echo(client);
  const opened = events.find((e) => e.to === 'open');
  t.ok(opened, 'b tripped');
  t.match(opened, { kind: 'endpoint', key: b!.id, from: 'closed', to: 'open', service: 'default/trellis.test.EchoService', coolDownMs: 60_000 });
  t.equal(opened!.reason, '13 of 21 calls failed (62 %) in the last 10 s', 'the first failure after minCalls calls trips it');
  t.equal(b!.calls.Echo, 21);

  const before = b!.calls.total;
  const served = [];
  for (let i = 0; i < 40; i++) served.push(await echo(client));
  t.equal(b!.calls.total, before, 'an open endpoint receives no calls');
  t.same(new Set(served), new Set(['a']), 'a serves everything meanwhile, without a single error');
  t.same(plugin.states().filter((s) => s.state !== 'closed').map((s) => [s.key, s.state]), [[b!.id, 'open']]);
  t.equal(plugin.states().find((s) => s.kind === 'method')?.state, 'closed', 'the method as a whole stayed healthy');

  // Still failing when the cool-down ends: the probe fails, the cool-down doubles.
  b!.behave({ failures: 1, period: 1 });
  clock.skip(60_000);
  for (let i = 0; i < 10 && events.length < 3; i++) await echo(client);
  t.same(events.slice(1).map((e) => `${e.from}→${e.to}`), ['open→half-open', 'half-open→open']);
  t.equal(events[2]!.reason, 'a probe call failed');
  t.equal(events[2]!.coolDownMs, 120_000, 'the cool-down doubled');
  t.equal(b!.calls.total, before + 1, 'exactly one probe reached b');

  // Healthy again: after the (doubled) cool-down, three probes succeed and b is back in rotation.
  b!.behave('healthy');
  clock.skip(120_000);
  for (let i = 0; i < 20 && events.length < 5; i++) await echo(client);
  t.same(events.slice(3).map((e) => `${e.from}→${e.to}: ${e.reason}`), [
    'open→half-open: cool-down of 120 s is over',
    'half-open→closed: 3 probe calls succeeded',
  ]);
  t.equal(b!.calls.total, before + 4, 'three probe calls');
  const afterClose = b!.calls.total;
  for (let i = 0; i < 20; i++) t.not(await echo(client), 'error:UNAVAILABLE');
  t.equal(b!.calls.total - afterClose, 10, 'b gets its half of the calls again');
  t.ok(a!.calls.total > 40);
});

t.test('business errors do not trip it; failureCodes decides what counts', async (t) => {
  const { registry, providers: [p] } = await cluster(t, ['p']);
  p!.behave({ failures: 1, period: 1, code: Code.NOT_FOUND });
  const events: BreakerEvent[] = [];
  const lenient = new RpcClient({ service: ECHO, registry, plugins: [breaker({ minCalls: 5, onStateChange: (e) => events.push(e) })] });
  t.teardown(() => lenient.close());
  for (let i = 0; i < 40; i++) t.equal(await echo(lenient), 'error:NOT_FOUND');
  t.same(events, [], 'NOT_FOUND is an answer, not a failure: no circuit opened');
  t.equal(p!.calls.total, 40, 'every call reached the provider');

  const strict = new RpcClient({
    service: ECHO, registry,
    plugins: [breaker({ minCalls: 5, failureCodes: ['NOT_FOUND'], coolDownMs: 60_000, maxCoolDownMs: 60_000, onStateChange: (e) => events.push(e) })],
  });
  t.teardown(() => strict.close());
  for (let i = 0; i < 5; i++) await echo(strict);
  t.same(events.map((e) => `${e.kind}:${e.to}`).sort(), ['endpoint:open', 'method:open'], 'counted as failures, both levels open');
  const error = await strict.invoke('Echo', {}).catch((e: RpcError) => e);
  t.match(error, { code: Code.UNAVAILABLE, mayHaveRun: false, message: /^circuit open for trellis\.test\.EchoService\/Echo \(half-open in \d+(\.\d)? s, cool-down 60 s\)/ });
  t.equal(p!.calls.total, 45);
});

t.test('when every endpoint is open the call fails fast and names them', async (t) => {
  const { registry, providers: [p] } = await cluster(t, ['p']);
  p!.behave({ failures: 1, period: 1 });
  const client = new RpcClient({ service: ECHO, registry, plugins: [breaker({ minCalls: 5, method: false, coolDownMs: 60_000, maxCoolDownMs: 60_000 })] });
  t.teardown(() => client.close());
  for (let i = 0; i < 5; i++) await echo(client);
  const error = await client.invoke('Echo', {}).catch((e: RpcError) => e);
  t.match(error, {
    code: Code.UNAVAILABLE,
    mayHaveRun: false,
    message: new RegExp(`^circuit open for every provider of default/trellis\\.test\\.EchoService: ${p!.id.replace(/\./g, '\\.')} \\(open, half-open in \\d+(\\.\\d)? s\\)$`),
  });
  t.equal(p!.calls.total, 5);
});

t.test('the router returns its input itself while nothing is open, and caches per list and state', async (t) => {
  const clock = new FakeClock();
  const set = new CircuitSet('default/x', 'endpoint', () => {});
  const config = new BreakerConfig({ minCalls: 1, coolDownMs: 100 }, undefined);
  const router = new EndpointBreaker(set, config, clock);
  const endpoint = (port: number): Endpoint => ({ id: `127.0.0.1:${port}`, host: '127.0.0.1', port, weight: 100, version: '1.0.0', tags: {} });
  const list = Object.freeze([endpoint(1), endpoint(2)]);
  const inv = {} as Invocation;
  t.equal(router.route(list, inv), list);
  const circuit = set.get(list[0]!.id, config.current.endpoint!);
  circuit.onResult(clock.now(), circuit.acquire(clock.now()), 1 /* FAILURE */, 1);
  const narrowed = router.route(list, inv);
  t.same(narrowed.map((e) => e.id), ['127.0.0.1:2']);
  t.equal(router.route(list, inv), narrowed, 'the same output while nothing changed');
  clock.advance(100);
  t.same(router.route(list, inv).map((e) => e.id), ['127.0.0.1:1'], 'half-open with a probe slot: the next call is steered to it, its probe');
  set.get(list[0]!.id, config.current.endpoint!).acquire(clock.now());
  set.get(list[0]!.id, config.current.endpoint!).acquire(clock.now());
  set.get(list[0]!.id, config.current.endpoint!).acquire(clock.now());
  t.same(router.route(list, inv).map((e) => e.id), ['127.0.0.1:2'], 'every probe slot taken: out again');
  set.retain(new Set(['127.0.0.1:2']));
  t.equal(set.notClosed, 0, 'an endpoint that left the directory takes its circuit with it');
  t.equal(router.route(list, inv), list);
});

t.test('a circuit that left the set is not found again, though it was the one looked up last', async (t) => {
  const clock = new FakeClock();
  const set = new CircuitSet('default/x', 'endpoint', () => {});
  const config = new BreakerConfig({ minCalls: 1, coolDownMs: 100 }, undefined);
  const settings = config.current.endpoint!;
  const tripped = set.get('127.0.0.1:1', settings);
  tripped.onResult(clock.now(), tripped.acquire(clock.now()), 1 /* FAILURE */, 1);
  t.equal(tripped.state, 'open');
  t.equal(set.peek('127.0.0.1:1'), tripped, 'the circuit looked up last');
  set.retain(new Set());
  t.equal(set.peek('127.0.0.1:1'), undefined, 'gone with its endpoint');
  const back = set.get('127.0.0.1:1', settings);
  t.not(back, tripped, 'back in the directory: a new circuit');
  t.equal(back.state, 'closed');
  t.same(set.snapshot(clock.now()).map((s) => [s.key, s.state]), [['127.0.0.1:1', 'closed']]);
  set.reconfigure(() => undefined);
  t.equal(set.peek('127.0.0.1:1'), undefined, 'dropped by new settings: gone too');
});
