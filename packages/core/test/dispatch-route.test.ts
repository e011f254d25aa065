import t from 'tap';
import { Code, RpcClient, RpcServer, type RpcError, type ServiceDefinition } from '../src/index.js';
import { ECHO, ECHO_PLUS, echoHandlers } from './fixtures/json-service.js';

/**
 * The server remembers the route of the last request it dispatched (server/rpc-server.ts): requests
 * that alternate between services and methods of one server, and a method it does not have right
 * after a remembered route, must still each reach what they name.
 */
t.test('requests alternating between services and methods of one server each reach what they name', async (t) => {
  const OTHER: ServiceDefinition = { name: 'test.Other', methods: ECHO.methods };
  const server = new RpcServer({ host: '127.0.0.1' });
  server.addService(ECHO, echoHandlers('echo'));
  server.addService(OTHER, echoHandlers('other'));
  await server.start();
  const address = `127.0.0.1:${server.port}`;
  const echo = new RpcClient({ service: ECHO_PLUS, addresses: [address] });
  const other = new RpcClient({ service: OTHER, addresses: [address] });
  t.teardown(async () => { await echo.close(); await other.close(); await server.close({ graceMs: 100 }); });
  const served: string[] = [];
  for (let i = 0; i < 6; i++) {
    const client = i % 2 === 0 ? echo : other;
    const method = i % 3 === 0 ? 'Echo' : 'Mutate';
    served.push(`${method}:${((await client.invoke(method, { message: method })) as { servedBy: string; message: string }).servedBy}`);
  }
  t.same(served, ['Echo:echo', 'Mutate:other', 'Mutate:echo', 'Echo:other', 'Mutate:echo', 'Mutate:other'], 'each call to the service it named');
  const missing = await echo.invoke('Missing', {}).catch((e: RpcError) => e);
  t.match(missing, { code: Code.UNIMPLEMENTED, mayHaveRun: false, message: /Missing does not exist/ }, 'a method the server lacks, right after a remembered route of its service');
  t.match(await echo.invoke('Echo', { message: 'after' }), { message: 'after', servedBy: 'echo' }, 'and the route after it is still served');
});
