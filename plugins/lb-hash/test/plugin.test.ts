import t from 'tap';
import type { ClientPluginContext, LoadBalancer, LoadBalancerFactory } from '@trellis/core/spi';
import { checkPlugin } from '@trellis/core/spi';
import { FakeClock } from '@trellis/testkit';
import { ConsistentHashBalancer, consistentHash } from '../src/index.js';

/** Just the parts of a client context the plugin's setup touches. */
function fakeContext() {
  const named = new Map<string, LoadBalancerFactory>();
  const closers: (() => unknown)[] = [];
  let current: LoadBalancer | undefined;
  const ctx = {
    side: 'client',
    clock: new FakeClock(),
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
  const plugin = consistentHash({ field: 'id' });
  t.equal(plugin.meta.name, '@trellis/lb-hash');
  t.doesNotThrow(() => checkPlugin(plugin, 'client', new Set()));
  t.end();
});

t.test('by default it registers the name and switches the client, with one balancer', async (t) => {
  const plugin = consistentHash({ field: 'id' });
  const fake = fakeContext();
  await plugin.setupClient!(fake.ctx);
  const inForce = fake.current();
  t.type(inForce, ConsistentHashBalancer);
  t.equal(inForce!.name, 'consistent-hash');
  t.equal(fake.named.get('consistent-hash')!(), inForce);
  t.same(plugin.balancers(), [inForce]);
  await fake.close();
  t.same(plugin.balancers(), []);
});

t.test("register: 'named-only' leaves the client's balancer alone", async (t) => {
  const plugin = consistentHash({ header: 'x-session', register: 'named-only' });
  const fake = fakeContext();
  await plugin.setupClient!(fake.ctx);
  t.equal(fake.current(), undefined);
  t.type(fake.named.get('consistent-hash')!(), ConsistentHashBalancer);
});

t.test('bad options fail at consistentHash(), not at a client’s first call', (t) => {
  t.throws(() => consistentHash({} as never), { code: 'ERR_INVALID_OPTION', message: /exactly one of them/ });
  t.throws(() => consistentHash(undefined as never), { code: 'ERR_INVALID_OPTION' });
  t.throws(() => consistentHash({ field: 'id', register: 'maybe' as never }), { code: 'ERR_INVALID_OPTION', message: /register/ });
  t.throws(() => consistentHash({ field: 'id', onBalancer: 1 as never }), { code: 'ERR_INVALID_OPTION', message: /onBalancer/ });
  t.end();
});
