import t from 'tap';
import { RpcClient, RpcServer, type MessageCodec, type ServiceDefinition } from '@trellis/core';
import { startEtcd, type EtcdServer } from '@trellis/testkit';
import { Lists, makeRegistry, rawClient, waitFor } from './fixtures/helpers.js';

// The registry as the kernel uses it: passed as `registry` to a server and a client (not a plugin).

const json: MessageCodec<unknown> = {
  encode: (message) => Buffer.from(JSON.stringify(message)),
  decode: (bytes) => JSON.parse(Buffer.from(bytes).toString('utf8')),
};
const ECHO: ServiceDefinition = {
  name: 'test.Echo',
  methods: { Echo: { name: 'Echo', localName: 'echo', requestCodec: json, responseCodec: json, idempotent: true, options: {} } },
};

let etcd: EtcdServer;
t.before(async () => {
  etcd = await startEtcd();
});
t.teardown(() => etcd?.stop());

t.test('an RpcServer registers in etcd, an RpcClient finds it, a graceful close deregisters it', async (t) => {
  const serverRegistry = makeRegistry(t, etcd.endpoints, { root: '/k1' });
  const clientRegistry = makeRegistry(t, etcd.endpoints, { root: '/k1' });
  const raw = rawClient(t, etcd.endpoints);
  const server = new RpcServer({ host: '127.0.0.1', registry: serverRegistry, tags: { lane: 'blue' } });
  server.addService(ECHO, { echo: async (request: { message: string }) => ({ message: request.message }) });
  await server.start();
  t.teardown(() => server.close());

  const key = `/k1/services/default/test.Echo/providers/127.0.0.1:${server.port}`;
  const document = JSON.parse((await raw.get(key).string()) ?? 'null') as { port: number; tags: Record<string, string> };
  t.equal(document.port, server.port, 'the server registered itself');
  t.same(document.tags, { lane: 'blue' });

  const client = new RpcClient({ service: ECHO, registry: clientRegistry });
  t.teardown(() => client.close());
  t.same(await client.invoke('Echo', { message: 'hi' }), { message: 'hi' }, 'a call found the provider through etcd');

  const lists = new Lists();
  clientRegistry.subscribe({ group: 'default', name: 'test.Echo' }, lists.listener);
  await lists.until([`127.0.0.1:${server.port}`]);
  await server.close();
  await waitFor('the key to be deleted', async () => (await raw.get(key).string()) === null);
  await lists.until([]);
});
