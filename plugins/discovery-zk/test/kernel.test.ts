// The registry as the kernel uses it: passed as `registry` to a server and a client (it is not a plugin).
import t from 'tap';
import { RpcClient, RpcServer, type MessageCodec, type ServiceDefinition } from '@trellis/core';
import { startZooKeeper } from '@trellis/testkit';
import { zookeeperRegistry } from '../src/index.js';
import { closeRaw, ListRecorder, rawClient, readNode, waitFor } from './fixtures/helpers.js';

const json: MessageCodec<unknown> = {
  encode: (message) => Buffer.from(JSON.stringify(message)),
  decode: (bytes) => JSON.parse(Buffer.from(bytes).toString('utf8')),
};
const ECHO: ServiceDefinition = {
  name: 'test.Echo',
  methods: { Echo: { name: 'Echo', localName: 'echo', requestCodec: json, responseCodec: json, idempotent: true, options: {} } },
};

t.test('an RpcServer registers in ZooKeeper, an RpcClient finds it, a graceful close deregisters it', async (t) => {
  const zk = await startZooKeeper({ tickTime: 500 });
  t.teardown(() => zk.stop());
  const serverRegistry = zookeeperRegistry({ connectString: zk.connectString, snapshotDir: false });
  const clientRegistry = zookeeperRegistry({ connectString: zk.connectString, snapshotDir: false });
  t.teardown(() => Promise.all([serverRegistry.close(), clientRegistry.close()]));
  const raw = await rawClient(zk.connectString);
  t.teardown(() => closeRaw(raw));

  const server = new RpcServer({ host: '127.0.0.1', registry: serverRegistry, tags: { lane: 'blue' } });
  server.addService(ECHO, { echo: async (request: { message: string }) => ({ message: request.message }) });
  await server.start();
  t.teardown(() => server.close());

  const path = `/trellis/services/default/test.Echo/providers/127.0.0.1:${server.port}`;
  const node = await readNode(raw, path);
  t.equal(node?.owner, serverRegistry.sessionId, 'an ephemeral node of the server registry');
  t.match(JSON.parse(node?.data ?? 'null'), { host: '127.0.0.1', port: server.port, tags: { lane: 'blue' } });

  const client = new RpcClient({ service: ECHO, registry: clientRegistry });
  t.teardown(() => client.close());
  t.same(await client.invoke('Echo', { message: 'hi' }), { message: 'hi' }, 'a call found the provider through ZooKeeper');

  const lists = new ListRecorder();
  clientRegistry.subscribe({ group: 'default', name: 'test.Echo' }, lists.listener);
  await lists.until([`127.0.0.1:${server.port}`]);
  await server.close();
  await waitFor('the node to be deleted', async () => (await readNode(raw, path)) === undefined);
  await lists.until([]);
});
