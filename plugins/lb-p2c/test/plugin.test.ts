import t from 'tap';
import type { ClientPluginContext, LoadBalancer, LoadBalancerFactory } from '@trellis/core/spi';
import { checkPlugin } from '@trellis/core/spi';
import { FakeClock, testEndpoint, testInvocation } from '@trellis/testkit';
import { P2cBalancer, p2c } from '../src/index.js';

/** Just the parts of a client context the plugin's setup touches. */
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
  const plugin = p2c();
  t.equal(plugin.meta.name, '@trellis/lb-p2c');
  t.doesNotThrow(() => checkPlugin(plugin, 'client', new Set()));
  t.end();
});

t.test('by default it registers the name and switches the client to P2C, with one balancer', async (t) => {
  const plugin = p2c();
  const fake = fakeContext();
  await plugin.setupClient!(fake.ctx);
  const inForce = fake.current();
  t.type(inForce, P2cBalancer);
  t.equal(fake.named.get('p2c')!(), inForce, 'the name and the default slot share one balancer');
  t.same(plugin.balancers(), [inForce]);
  await fake.close();
  t.same(plugin.balancers(), [], 'forgotten when the client closes');
});

t.test("register: 'named-only' leaves the client's balancer alone; the balancer runs on the client's clock", async (t) => {
  const plugin = p2c({ register: 'named-only' });
  const clock = new FakeClock(0);
  const fake = fakeContext(clock);
  await plugin.setupClient!(fake.ctx);
  t.equal(fake.current(), undefined);
  const balancer = fake.named.get('p2c')!() as P2cBalancer;
  const list = [testEndpoint('a:1')];
  balancer.pick(list, testInvocation())!.done({ latencyMs: 100 });
  clock.advance(10_000);
  t.ok(Math.abs(balancer.snapshot()[0]!.latencyMs - 100 / Math.E) < 1e-9, 'decayed by the client clock’s 10 s');
});

t.test('bad options fail at p2c(), not at a client’s first call', (t) => {
  t.throws(() => p2c({ decayMs: -5 }), { code: 'ERR_INVALID_OPTION', message: /decayMs/ });
  t.throws(() => p2c({ register: 'sometimes' as never }), { code: 'ERR_INVALID_OPTION', message: /register/ });
  t.throws(() => p2c({ onBalancer: 5 as never }), { code: 'ERR_INVALID_OPTION', message: /onBalancer/ });
  t.end();
});
