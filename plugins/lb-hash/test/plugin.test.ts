/** The consistentHash() plugin: its registration mechanics are core's balancerPlugin (tested in core). */
import t from 'tap';
import { checkPlugin } from '@trellis/core/spi';
import { fakeClientContext } from '@trellis/testkit';
import { ConsistentHashBalancer, consistentHash } from '../src/index.js';

t.test('meta passes the kernel’s plugin check', (t) => {
  const plugin = consistentHash({ field: 'id' });
  t.equal(plugin.meta.name, '@trellis/lb-hash');
  t.doesNotThrow(() => checkPlugin(plugin, 'client', new Set()));
  t.end();
});

t.test('it registers the name and, by default, is the client’s balancer', async (t) => {
  const fake = fakeClientContext();
  await consistentHash({ field: 'id' }).setupClient!(fake.context);
  const balancer = fake.current();
  t.type(balancer, ConsistentHashBalancer);
  t.equal(balancer!.name, 'consistent-hash');
  t.equal(fake.named.get('consistent-hash')!(), balancer);
  const named = fakeClientContext();
  await consistentHash({ header: 'x-session', register: 'named-only' }).setupClient!(named.context);
  t.equal(named.current(), undefined, "'named-only' leaves the client's balancer alone");
  t.type(named.named.get('consistent-hash')!(), ConsistentHashBalancer);
});

t.test('bad options fail at consistentHash(), not at a client’s first call', (t) => {
  t.throws(() => consistentHash({} as never), { code: 'ERR_INVALID_OPTION', message: /exactly one of them/ });
  t.throws(() => consistentHash(undefined as never), { code: 'ERR_INVALID_OPTION' });
  t.throws(() => consistentHash({ field: 'id', register: 'maybe' as never }), { code: 'ERR_INVALID_OPTION', message: /register/ });
  t.throws(() => consistentHash({ field: 'id', onBalancer: 1 as never }), { code: 'ERR_INVALID_OPTION', message: /onBalancer/ });
  t.end();
});
