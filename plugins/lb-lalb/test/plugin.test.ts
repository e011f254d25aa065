import t from 'tap';
import type { ClientPluginContext, LoadBalancer, LoadBalancerFactory } from '@trellis/core/spi';
import { checkPlugin } from '@trellis/core/spi';
import { LocalityAwareBalancer, lalb } from '../src/index.js';
import { FakeClock, endpoint, invocation } from './fixtures/sim.js';

/** Just the parts of a client context LALB's setup touches. */
function fakeContext(clock = new FakeClock()) {
  const named = new Map<string, LoadBalancerFactory>();
  const closers: (() => unknown)[] = [];
  let current: LoadBalancer | undefined;
  const ctx = {
    side: 'client',
    clock,
    addLoadBalancer: (name: string, factory: LoadBalancerFactory) => void named.set(name, factory),
    setLoadBalancer: (balancer: LoadBalancer) => void (current = balancer),
    onClose: (fn: () => unknown) => void closers.push(fn),
  } as unknown as ClientPluginContext;
  return {
    ctx,
    named,
    current: () => current,
    close: async () => {
      for (const fn of closers.reverse()) await fn();
    },
  };
}

t.test('meta passes the kernel’s plugin check', (t) => {
  const plugin = lalb();
  t.equal(plugin.meta.name, '@trellis/lb-lalb');
  t.equal(plugin.meta.kernel, '^0.1.0');
  t.doesNotThrow(() => checkPlugin(plugin, 'client', new Set()));
  t.throws(() => checkPlugin(plugin, 'server', new Set()), { code: 'ERR_PLUGIN_INVALID' }, 'client side only');
  t.end();
});

t.test('by default it registers the name and switches the client to LALB, with one balancer', async (t) => {
  const seen: LocalityAwareBalancer[] = [];
  const plugin = lalb({ onBalancer: (b) => seen.push(b) });
  const fake = fakeContext();
  await plugin.setupClient!(fake.ctx);
  t.ok(fake.named.has('lalb'));
  const inForce = fake.current();
  t.type(inForce, LocalityAwareBalancer);
  t.equal(inForce!.name, 'lalb');
  t.equal(fake.named.get('lalb')!(), inForce, 'the name and the default slot share one balancer');
  t.same(seen, [inForce]);
  t.same(plugin.balancers(), [inForce]);
  await fake.close();
  t.same(plugin.balancers(), [], 'forgotten when the client closes');
});

t.test("register: 'named-only' leaves the client's balancer alone", async (t) => {
  const plugin = lalb({ register: 'named-only' });
  const fake = fakeContext();
  await plugin.setupClient!(fake.ctx);
  t.equal(fake.current(), undefined);
  t.same(plugin.balancers(), [], 'created on first use');
  const balancer = fake.named.get('lalb')!();
  t.type(balancer, LocalityAwareBalancer);
  t.equal(fake.named.get('lalb')!(), balancer);
});

t.test('each client gets its own balancer on the client’s clock', async (t) => {
  const plugin = lalb();
  const clock = new FakeClock(500);
  const one = fakeContext(clock);
  const two = fakeContext();
  await plugin.setupClient!(one.ctx);
  await plugin.setupClient!(two.ctx);
  t.not(one.current(), two.current());
  t.equal(plugin.balancers().length, 2);
  const balancer = one.current() as LocalityAwareBalancer;
  balancer.pick([endpoint('a:1')], invocation());
  clock.advance(7);
  t.equal(balancer.snapshot()[0]!.inflightDelayMs, 7);
});

t.test('bad options fail at lalb(), not at a client’s first call', (t) => {
  t.throws(() => lalb({ windowSize: 0, register: 'named-only' }), { code: 'ERR_INVALID_OPTION' });
  t.throws(() => lalb({ register: 'sometimes' as never }), { code: 'ERR_INVALID_OPTION' });
  t.end();
});
