// A consumer that loses its connection resumes its watches from the revision it had reached: etcd
// replays what it missed, and the range is read again only when etcd compacted that revision away.
import t, { type Test } from 'tap';
import { LinkProxy, startEtcd, type EtcdServer } from '@trellis/testkit';
import { EtcdErrorCodes } from '../src/index.js';
import { EtcdCalls, Lists, SERVICE, instance, makeRegistry, rawClient, waitFor } from './fixtures/helpers.js';

let etcd: EtcdServer;
t.before(async () => {
  etcd = await startEtcd();
});
t.teardown(() => etcd?.stop());

const OTHER = { ...SERVICE, name: 'demo.Other' };

/** A TCP proxy in front of etcd's client port whose connections the test can cut (black hole) and drop. */
async function cuttableEndpoint(t: Test): Promise<{ endpoints: string; cut(): void; reconnect(): void }> {
  let cut = false;
  const proxy = await new LinkProxy({ to: 'etcd', targetPort: etcd.port, isCut: () => cut }).start();
  t.teardown(() => proxy.close());
  return {
    endpoints: `http://127.0.0.1:${proxy.port}`,
    cut: () => {
      cut = true;
      proxy.refresh();
    },
    // The cut connections are closed: the consumer's watch stream breaks now and etcd3 opens a new one.
    reconnect: () => {
      cut = false;
      proxy.refresh();
    },
  };
}

t.test('changes made while the consumer was cut off arrive by resuming the watch, without a read', async (t) => {
  const link = await cuttableEndpoint(t);
  const calls = new EtcdCalls();
  const provider = makeRegistry(t, etcd.endpoints, { root: '/r1' });
  const consumer = makeRegistry(t, link.endpoints, { root: '/r1', client: { interceptors: [calls.interceptor] } });
  await provider.register(SERVICE, instance(7001));
  await provider.register(OTHER, instance(7101));
  const lists = new Lists();
  const others = new Lists();
  consumer.subscribe(SERVICE, lists.listener);
  consumer.subscribe(OTHER, others.listener);
  await lists.until(['127.0.0.1:7001']);
  await others.until(['127.0.0.1:7101']);
  t.equal(calls.count('Range'), 2, 'one read per service to start with');
  // etcd3 sends a watch's create request once etcd answered the one before it.
  await waitFor('both watches created', () => calls.watchCreates === 2);

  link.cut();
  await provider.register(SERVICE, instance(7002));
  await provider.deregister(OTHER, instance(7101));
  await provider.register(OTHER, instance(7102));
  link.reconnect();
  await lists.until(['127.0.0.1:7001', '127.0.0.1:7002']);
  await others.until(['127.0.0.1:7102']);
  t.equal(calls.count('Range'), 2, 'no read after the reconnection');
  t.equal(calls.watchCreates, 4, `both watches created again, from the revision they had reached (${JSON.stringify([...calls.methods])})`);
  t.notOk(others.all.some((list) => list.length === 0), 'the delete and the put of the other service were merged, never an empty list');
  t.same(consumer.errors, []);
});

t.test('a revision compacted while the consumer was cut off: that range is read again, the other resumes', async (t) => {
  const link = await cuttableEndpoint(t);
  const calls = new EtcdCalls();
  const provider = makeRegistry(t, etcd.endpoints, { root: '/r2' });
  const consumer = makeRegistry(t, link.endpoints, { root: '/r2', client: { interceptors: [calls.interceptor] } });
  const raw = rawClient(t, etcd.endpoints);
  await provider.register(SERVICE, instance(7201));
  await provider.register(OTHER, instance(7301));
  const lists = new Lists();
  const others = new Lists();
  consumer.subscribe(SERVICE, lists.listener);
  consumer.subscribe(OTHER, others.listener);
  await lists.until(['127.0.0.1:7201']);
  await others.until(['127.0.0.1:7301']);
  // The other service's watch moves on to a later revision than this one's.
  await provider.register(OTHER, instance(7302));
  await others.until(['127.0.0.1:7301', '127.0.0.1:7302']);
  await waitFor('both watches created', () => calls.watchCreates === 2);
  const { kvs } = await raw.get('/r2/services/default/demo.Other/providers/127.0.0.1:7302').exec();
  const otherNext = BigInt(kvs[0]!.mod_revision) + 1n;

  link.cut();
  await provider.register(SERVICE, instance(7202));
  await provider.register(OTHER, instance(7303));
  // History before the other watch's next revision is gone: this service's watch cannot resume.
  await raw.kv.compact({ revision: otherNext.toString(), physical: true });
  link.reconnect();
  await lists.until(['127.0.0.1:7201', '127.0.0.1:7202'], 8000);
  await others.until(['127.0.0.1:7301', '127.0.0.1:7302', '127.0.0.1:7303'], 8000);
  await waitFor('the reset to be reported', () => consumer.errors.some((e) => e.code === EtcdErrorCodes.WATCH_RESET));
  t.equal(calls.count('Range'), 3, 'one more read, for the service whose revision was compacted');

  await provider.register(SERVICE, instance(7203));
  await lists.until(['127.0.0.1:7201', '127.0.0.1:7202', '127.0.0.1:7203']);
});

t.test('every watch of a registry whose revisions were all compacted is read again once, and follows on', async (t) => {
  const link = await cuttableEndpoint(t);
  const calls = new EtcdCalls();
  const provider = makeRegistry(t, etcd.endpoints, { root: '/r3' });
  const consumer = makeRegistry(t, link.endpoints, { root: '/r3', client: { interceptors: [calls.interceptor] } });
  const raw = rawClient(t, etcd.endpoints);
  const services = [SERVICE, OTHER, { ...SERVICE, name: 'demo.Third' }];
  const lists = services.map(() => new Lists());
  for (const [i, service] of services.entries()) {
    await provider.register(service, instance(7400 + i));
    consumer.subscribe(service, lists[i]!.listener);
    await lists[i]!.until([`127.0.0.1:${7400 + i}`]);
  }
  await waitFor('the watches created', () => calls.watchCreates === 3);
  link.cut();
  for (const [i, service] of services.entries()) await provider.register(service, instance(7410 + i));
  const { header } = await raw.get('/r3/none').exec();
  await raw.kv.compact({ revision: header.revision, physical: true });
  link.reconnect();
  for (const [i, list] of lists.entries()) await list.until([`127.0.0.1:${7400 + i}`, `127.0.0.1:${7410 + i}`], 8000);
  t.equal(calls.count('Range'), 6, 'each range read again once');
  await provider.register(services[2]!, instance(7420));
  await lists[2]!.until(['127.0.0.1:7402', '127.0.0.1:7412', '127.0.0.1:7420']);
});
