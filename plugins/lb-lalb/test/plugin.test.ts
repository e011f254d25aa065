/** The lalb() plugin: its registration mechanics are core's balancerPlugin (tested in core). */
import t from 'tap';
import { checkPlugin } from '@trellis/core/spi';
import { FakeClock, fakeClientContext } from '@trellis/testkit';
import { LocalityAwareBalancer, lalb } from '../src/index.js';
import { endpoint, invocation } from './fixtures/sim.js';

t.test('meta passes the kernel’s plugin check', (t) => {
  const plugin = lalb();
  t.equal(plugin.meta.name, '@trellis/lb-lalb');
  t.equal(plugin.meta.kernel, '^0.1.0');
  t.doesNotThrow(() => checkPlugin(plugin, 'client', new Set()));
  t.throws(() => checkPlugin(plugin, 'server', new Set()), { code: 'ERR_PLUGIN_INVALID' }, 'client side only');
  t.end();
});

t.test('it registers the name and, by default, is the client’s balancer, on the client’s clock', async (t) => {
  const seen: LocalityAwareBalancer[] = [];
  const plugin = lalb({ onBalancer: (b) => seen.push(b) });
  const clock = new FakeClock(500);
  const fake = fakeClientContext(clock);
  await plugin.setupClient!(fake.context);
  const balancer = fake.current() as LocalityAwareBalancer;
  t.type(balancer, LocalityAwareBalancer);
  t.equal(balancer.name, 'lalb');
  t.equal(fake.named.get('lalb')!(), balancer, 'the name and the default slot share one balancer');
  t.same(seen, [balancer]);
  balancer.pick([endpoint('a:1')], invocation());
  clock.advance(7);
  t.equal(balancer.snapshot()[0]!.inflightDelayMs, 7, 'it runs on the client’s clock');
  const named = fakeClientContext();
  await lalb({ register: 'named-only' }).setupClient!(named.context);
  t.equal(named.current(), undefined, "'named-only' leaves the client's balancer alone");
  t.type(named.named.get('lalb')!(), LocalityAwareBalancer);
});

t.test('bad options fail at lalb(), not at a client’s first call', (t) => {
  t.throws(() => lalb({ windowSize: 0, register: 'named-only' }), { code: 'ERR_INVALID_OPTION' });
  t.throws(() => lalb({ register: 'sometimes' as never }), { code: 'ERR_INVALID_OPTION' });
  t.end();
});
