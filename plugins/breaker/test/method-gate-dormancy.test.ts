import t from 'tap';
import { Code, definePlugin, InterceptorOrder, MemoryRegistry, RpcClient, RpcError, type CallEnd, type CallGate, type CallObserver, type ClientPluginContext, type Invocation, type Plugin } from '@trellis/core';
import { loadEchoService } from '@trellis/testkit';
import { breaker, type BreakerEvent } from '../src/index.js';
import { SkippingClock } from './fixtures/clocks.js';
import { startPatternProvider } from './fixtures/providers.js';

/**
 * The method gate's dormancy (issue #17): the gate (`callStart` → `beforeCall` → `callEnd`) is off the
 * call path while every method circuit is closed, and a recorder observer (`callEnd`) keeps the
 * windows; the gate wakes the moment a circuit opens. Watched through the plugin's own context: the
 * same gate and observer objects reach the kernel (so its switches find them), with their hooks
 * counted and their `setHookActive` flips recorded.
 */

const ECHO = loadEchoService();
const QUERY = { group: 'default', name: 'trellis.test.EchoService' };
const ECHO_KEY = 'trellis.test.EchoService/Echo';

interface Spy {
  /** What the kernel was last told, per part. */
  readonly awake: { gate: boolean | undefined; recorder: boolean | undefined };
  readonly flips: string[];
  /** Hook calls the kernel made, per part and hook. */
  readonly asked: { gateCallStart: number; beforeCall: number; gateCallEnd: number; recorderCallStart: number; recorderCallEnd: number };
}

function counted<A extends unknown[], R>(fn: ((...args: A) => R) | undefined, self: object, count: () => void): ((...args: A) => R) | undefined {
  return fn === undefined ? undefined : (...args: A) => (count(), fn.apply(self, args));
}

/** `breaker(options)` on a context that counts the method gate's and its recorder's hook calls. */
function spiedBreaker(options: Parameters<typeof breaker>[0]) {
  const inner = breaker(options);
  const spy: Spy = {
    awake: { gate: undefined, recorder: undefined },
    flips: [],
    asked: { gateCallStart: 0, beforeCall: 0, gateCallEnd: 0, recorderCallStart: 0, recorderCallEnd: 0 },
  };
  let gate: CallGate | undefined;
  let recorder: CallObserver | undefined;
  const plugin = definePlugin({
    meta: inner.meta,
    setupClient: (ctx) => {
      const spied = Object.create(ctx, {
        addGate: {
          value: (g: CallGate, order: number) => {
            gate = g;
            // The kernel reads the hooks once, at registration: count them before.
            g.callStart = counted(g.callStart, g, () => spy.asked.gateCallStart++);
            g.beforeCall = counted(g.beforeCall, g, () => spy.asked.beforeCall++)!;
            g.callEnd = counted(g.callEnd, g, () => spy.asked.gateCallEnd++);
            ctx.addGate(g, order);
          },
        },
        observe: {
          value: (o: CallObserver) => {
            // The endpoint circuits' observer watches attempts; the method recorder, calls only.
            if (o.attemptEnd === undefined) {
              recorder = o;
              o.callStart = counted(o.callStart as ((invocation: Invocation) => unknown) | undefined, o, () => spy.asked.recorderCallStart++);
              o.callEnd = counted(o.callEnd as ((call: CallEnd, state: unknown) => void) | undefined, o, () => spy.asked.recorderCallEnd++);
            }
            ctx.observe(o);
          },
        },
        setHookActive: {
          value: (hook: object, active: boolean) => {
            const part = hook === gate ? 'gate' : hook === recorder ? 'recorder' : 'other';
            if (part !== 'other') spy.awake[part] = active;
            spy.flips.push(`${part} ${active ? 'on' : 'off'}`);
            ctx.setHookActive(hook as CallObserver, active);
          },
        },
      }) as ClientPluginContext;
      return inner.setupClient!(spied);
    },
  });
  return { plugin, inner, spy };
}

async function setup(t: { teardown(fn: () => unknown): void }, options: Parameters<typeof breaker>[0] = {}, others: Plugin[] = []) {
  const registry = new MemoryRegistry();
  const provider = await startPatternProvider('p', registry);
  const { plugin, inner, spy } = spiedBreaker({ endpoint: false, minCalls: 10, coolDownMs: 60_000, maxCoolDownMs: 60_000, ...options });
  const events: BreakerEvent[] = [];
  // What the kernel had been told when each state change was announced.
  const awakeAtEvent: string[] = [];
  inner.onStateChange((e) => {
    events.push(e);
    awakeAtEvent.push(`${e.to}: gate ${spy.awake.gate ? 'on' : 'off'}, recorder ${spy.awake.recorder ? 'on' : 'off'}`);
  });
  const client = new RpcClient({ service: ECHO, registry, plugins: [...others, plugin] });
  t.teardown(async () => {
    await client.close();
    await provider.server.close({ graceMs: 100 });
  });
  const call = (method = 'Echo') => client.invoke(method, { message: 'x' }).then(() => 'ok', (e: RpcError) => e);
  const echo = () => inner.states().find((s) => s.key === ECHO_KEY);
  return { registry, provider, spy, events, awakeAtEvent, client, call, echo };
}

t.test('while every method circuit is closed the gate is off the call path and the recorder counts every call', async (t) => {
  const { provider, spy, call, echo, events } = await setup(t);
  for (let i = 0; i < 5; i++) t.equal(await call(), 'ok');
  provider.behave({ failures: 1, period: 1 });
  for (let i = 0; i < 3; i++) t.type(await call(), RpcError);
  t.same(spy.flips, ['gate off', 'recorder on'], 'asleep from the set-up on');
  t.same(spy.asked, { gateCallStart: 0, beforeCall: 0, gateCallEnd: 0, recorderCallStart: 0, recorderCallEnd: 8 }, 'one hook call per call: the recorder\'s callEnd (no callStart on the client clock)');
  t.match(echo(), { state: 'closed', calls: 8, failures: 3 }, 'every call counted in the window');
  t.same(events, []);
});

t.test('the gate wakes the moment a method circuit opens: the next call is refused and never sent', async (t) => {
  const { provider, spy, call, echo, events, awakeAtEvent } = await setup(t);
  provider.behave({ failures: 1, period: 1 });
  for (let i = 0; i < 10; i++) await call();
  t.match(events, [{ key: ECHO_KEY, from: 'closed', to: 'open' }]);
  t.same(awakeAtEvent, ['open: gate on, recorder off'], 'awake before the opening was announced');
  t.same(spy.flips, ['gate off', 'recorder on', 'gate on', 'recorder off']);
  t.equal(provider.calls.Echo, 10);
  t.match(await call(), { code: Code.UNAVAILABLE, mayHaveRun: false, message: /^circuit open for trellis\.test\.EchoService\/Echo \(half-open in/ });
  t.equal(provider.calls.Echo, 10, 'the refused call never left the client');
  t.match(spy.asked, { gateCallStart: 1, beforeCall: 1, gateCallEnd: 1, recorderCallEnd: 10 }, 'the gate judged it; the recorder did not see it');
  provider.behave('healthy');
  t.equal(await call('Mutate'), 'ok', 'a method whose circuit is closed passes the awake gate');
  t.match(spy.asked, { beforeCall: 2, gateCallEnd: 2, recorderCallEnd: 10 }, 'and is recorded once, by the gate');
  t.match(echo(), { state: 'open' });
});

t.test('a call sent just before its circuit opened is not refused, and its late outcome is not counted', async (t) => {
  const { provider, spy, call, echo, events } = await setup(t);
  const hold = provider.holdNext();
  const parked = call(); // starts while the gate sleeps: the recorder ends it, whatever happens meanwhile
  await hold.reached;
  provider.behave({ failures: 1, period: 1 });
  for (let i = 0; i < 10; i++) await call();
  t.match(events, [{ key: ECHO_KEY, to: 'open' }]);
  provider.behave('healthy');
  hold.release();
  t.equal(await parked, 'ok', 'it was sent while the circuit was closed');
  t.match(spy.asked, { beforeCall: 0, gateCallEnd: 0, recorderCallEnd: 11 }, 'its end went to the recorder it started with');
  t.match(echo(), { state: 'open', calls: 0 }, 'a success that ended after the opening says nothing new');
  t.type(await call(), RpcError, 'the next call is refused');
  t.equal(provider.calls.Echo, 11);
});

t.test('half-open probes are judged by the awake gate; it sleeps again once the circuit closed', async (t) => {
  const clock = new SkippingClock();
  const { provider, spy, call, echo, events, awakeAtEvent } = await setup(t, { clock, halfOpenProbes: 2 });
  provider.behave({ failures: 1, period: 1 });
  for (let i = 0; i < 10; i++) await call();
  t.match(spy.asked, { gateCallStart: 0, recorderCallStart: 10, recorderCallEnd: 10 }, 'on its own clock the recorder times each call from its callStart');
  provider.behave('healthy');
  clock.skip(60_000);
  const hold = provider.holdNext();
  const first = call(); // the first probe, parked in the provider
  await hold.reached;
  t.equal(await call(), 'ok', 'the second probe');
  t.match(await call(), { code: Code.UNAVAILABLE, message: /\(half-open, its probe calls are in flight\)/ }, 'no third probe');
  t.same(events.map((e) => e.to), ['open', 'half-open'], 'one probe success of two: still half-open');
  hold.release();
  t.equal(await first, 'ok');
  // Had the first probe's end gone to the (then asleep) recorder, its permit would not count and the
  // circuit would stay half-open for good.
  t.same(events.map((e) => e.to), ['open', 'half-open', 'closed'], 'the parked probe closed it');
  t.same(awakeAtEvent, ['open: gate on, recorder off', 'half-open: gate on, recorder off', 'closed: gate off, recorder on'], 'asleep again before the closing was announced');
  const asked = { ...spy.asked };
  for (let i = 0; i < 3; i++) t.equal(await call(), 'ok');
  t.same(spy.asked, { ...asked, recorderCallStart: asked.recorderCallStart + 3, recorderCallEnd: asked.recorderCallEnd + 3 }, 'later calls skip the gate');
  t.match(echo(), { state: 'closed', calls: 3 }, 'and are counted, the probes not');
});

t.test('a live document that turns the breaker off puts the awake gate to sleep; its circuits come back closed', async (t) => {
  const { registry, provider, spy, call, client, events } = await setup(t);
  await client.start();
  provider.behave({ failures: 1, period: 1 });
  for (let i = 0; i < 10; i++) await call();
  t.same(spy.awake, { gate: true, recorder: false });
  await registry.putConfig(QUERY, 'breaker', '{ "enabled": false }');
  t.same(spy.awake, { gate: false, recorder: true }, 'the open circuit was dropped: nothing left to refuse');
  provider.behave('healthy');
  const before = provider.calls.Echo;
  for (let i = 0; i < 3; i++) t.equal(await call(), 'ok');
  t.equal(provider.calls.Echo, before + 3);
  await registry.putConfig(QUERY, 'breaker', '{ "enabled": true }');
  provider.behave({ failures: 1, period: 1 });
  for (let i = 0; i < 10; i++) await call();
  t.match(events.map((e) => e.to), ['open', 'open'], 'a fresh circuit opens again');
  t.same(spy.awake, { gate: true, recorder: false }, 'and wakes the gate');
  t.type(await call(), RpcError);
  t.equal(provider.calls.Echo, before + 13, 'the call after it is refused');
});

t.test('with an interceptor chain (the gate is a layer of it) the gate sleeps and wakes the same way', async (t) => {
  let intercepted = 0;
  const outer = definePlugin({
    meta: { name: '@test/pass-through', kernel: '^0.1.0' },
    setupClient: (ctx) => ctx.addInterceptor((next) => (invocation) => (intercepted++, next(invocation)), InterceptorOrder.TRACING, 'unary'),
  });
  const { provider, spy, call, echo } = await setup(t, {}, [outer]);
  for (let i = 0; i < 3; i++) t.equal(await call(), 'ok');
  t.equal(intercepted, 3, 'the calls went through the chain');
  t.match(spy.asked, { gateCallStart: 0, beforeCall: 0, recorderCallEnd: 3 }, 'its gate layer passed them on untouched');
  provider.behave({ failures: 1, period: 1 });
  for (let i = 0; i < 7; i++) await call();
  t.match(echo(), { state: 'open' }, '7 failures of 10 calls in the window opened it');
  t.match(await call(), { code: Code.UNAVAILABLE, mayHaveRun: false, message: /^circuit open for trellis\.test\.EchoService\/Echo / });
  t.equal(provider.calls.Echo, 10, 'the call after the opening was refused in the chain, never sent');
  t.match(spy.asked, { gateCallStart: 1, beforeCall: 1, gateCallEnd: 1, recorderCallEnd: 10 });
  t.equal(intercepted, 11);
});
