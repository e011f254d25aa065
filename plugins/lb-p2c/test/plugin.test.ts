/** The p2c() plugin: its registration mechanics are core's balancerPlugin (tested in core). */
import t from 'tap';
import { checkPlugin } from '@trellis/core/spi';
import { FakeClock, fakeClientContext, testEndpoint, testInvocation } from '@trellis/testkit';
import { P2cBalancer, p2c } from '../src/index.js';

t.test('meta passes the kernel’s plugin check', (t) => {
  const plugin = p2c();
  t.equal(plugin.meta.name, '@trellis/lb-p2c');
  t.doesNotThrow(() => checkPlugin(plugin, 'client', new Set()));
  t.end();
});

t.test('it registers the name and, by default, is the client’s balancer, on the client’s clock', async (t) => {
  const clock = new FakeClock(0);
  const fake = fakeClientContext(clock);
  await p2c().setupClient!(fake.context);
  const balancer = fake.current() as P2cBalancer;
  t.type(balancer, P2cBalancer);
  t.equal(fake.named.get('p2c')!(), balancer, 'the name and the default slot share one balancer');
  balancer.pick([testEndpoint('a:1')], testInvocation())!.done({ latencyMs: 100 });
  clock.advance(10_000);
  t.ok(Math.abs(balancer.snapshot()[0]!.latencyMs - 100 / Math.E) < 1e-9, 'decayed by the client clock’s 10 s');
  const named = fakeClientContext();
  await p2c({ register: 'named-only' }).setupClient!(named.context);
  t.equal(named.current(), undefined, "'named-only' leaves the client's balancer alone");
});

t.test('bad options fail at p2c(), not at a client’s first call', (t) => {
  t.throws(() => p2c({ decayMs: -5 }), { code: 'ERR_INVALID_OPTION', message: /decayMs/ });
  t.throws(() => p2c({ register: 'sometimes' as never }), { code: 'ERR_INVALID_OPTION', message: /register/ });
  t.throws(() => p2c({ onBalancer: 5 as never }), { code: 'ERR_INVALID_OPTION', message: /onBalancer/ });
  t.end();
});
