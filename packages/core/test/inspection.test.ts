import t from 'tap';
import { definePlugin, RpcClient, RpcServer, type ClientPluginContext, type ServerPluginContext } from '../src/index.js';
import { ECHO, echoHandlers, startEchoServer } from './fixtures/json-service.js';

t.test('a client\'s inspect(): plugins, endpoints with connection and health state, the balancer, every inspector', async (t) => {
  const { server, address } = await startEchoServer('p1');
  t.teardown(() => server.close({ graceMs: 0 }));
  let context: ClientPluginContext | undefined;
  const plugin = definePlugin({
    meta: { name: '@acme/counter', kernel: '^0.1.0' },
    setupClient(ctx) {
      context = ctx;
      let reads = 0;
      ctx.addInspector('@acme/counter', () => ({ reads: ++reads }));
      ctx.addInspector('@acme/broken', () => {
        throw new Error('no read-out today');
      });
      t.throws(() => ctx.addInspector('@acme/counter', () => 0), { code: 'ERR_PLUGIN_DUPLICATE' });
      t.throws(() => ctx.addInspector('', () => 0), { code: 'ERR_PLUGIN_INVALID' });
    },
  });
  const client = new RpcClient({ service: ECHO, addresses: [address], plugins: [plugin] });
  t.teardown(() => client.close());
  await client.invoke('Echo', { message: 'hi' });
  const inspection = client.inspect();
  t.equal(inspection.side, 'client');
  t.same(inspection.plugins, [{ name: '@acme/counter', kernel: '^0.1.0' }]);
  t.match(inspection.kernel, {
    started: true,
    balancer: { name: 'round-robin' },
    endpoints: [{ id: address, connection: 'ready', health: 'healthy' }],
  });
  t.same(inspection.inspectors['@acme/counter'], { reads: 1 });
  t.same(inspection.inspectors['@acme/broken'], { error: 'no read-out today' }, 'a throwing inspector hides nothing else');
  t.same(context!.inspect().inspectors['@acme/counter'], { reads: 2 }, 'the context reads the same, taken anew each time');
  t.doesNotThrow(() => JSON.stringify(inspection), 'plain data');
});

t.test('a server\'s inspect(): state, services and their methods, inspectors', async (t) => {
  let context: ServerPluginContext | undefined;
  const server = new RpcServer({
    host: '127.0.0.1',
    plugins: [definePlugin({ meta: { name: '@acme/gate', kernel: '^0.1.0' }, setupServer(ctx) {
      context = ctx;
      ctx.addInspector('@acme/gate', () => ({ open: true }));
    } })],
  });
  server.addService(ECHO, echoHandlers('p1'));
  await server.start();
  t.teardown(() => server.close({ graceMs: 0 }));
  const inspection = context!.inspect();
  t.equal(inspection.side, 'server');
  t.match(inspection.kernel, { state: 'serving', port: server.port, workers: [] });
  t.match((inspection.kernel.services as { name: string; methods: string[] }[])[0], { name: ECHO.name, methods: ['Echo', 'Mutate'] });
  t.same(inspection.inspectors, { '@acme/gate': { open: true } });
});
