import t from 'tap';
import { Code, MemoryRegistry, RpcClient, RpcError, RpcServer, type ServerInvocation } from '../src/index.js';
import { ECHO, ECHO_PLUS, echoHandlers, startEchoServer, waitFor, type EchoRequest } from './fixtures/json-service.js';

type EchoStub = {
  echo(request: EchoRequest, options?: object): Promise<{ message: string; servedBy: string; attempt: number; metadata: Record<string, string> }>;
  mutate(request: EchoRequest, options?: object): Promise<unknown>;
};

t.test('a unary call travels with metadata and comes back with trailers', async (t) => {
  const { server, address } = await startEchoServer('a');
  const client = new RpcClient({ service: ECHO, addresses: [address], caller: 'tests' });
  t.teardown(async () => { await client.close(); await server.close(); });
  const result = await client.invokeWithResult('Echo', { message: 'hi' }, { metadata: { 'x-user': '42' } });
  const reply = result.response as { message: string; metadata: Record<string, string>; attempt: number };
  t.equal(reply.message, 'hi');
  t.equal(reply.metadata['x-user'], '42');
  t.equal(reply.metadata['trellis-caller'], 'tests');
  t.equal(reply.attempt, 1);
  t.equal(result.metadata.get('served-by'), 'a');
  t.equal(result.endpoint.id, address);
});

t.test('a unary handler\'s response headers come back with the trailers on the native protocol (one metadata block; trailers win)', async (t) => {
  const handlers = echoHandlers('a');
  const server = new RpcServer({ host: '127.0.0.1', registry: new MemoryRegistry() }).addService(ECHO, {
    ...handlers,
    echo(request: EchoRequest, call: ServerInvocation) {
      call.responseHeaders.set('x-header', 'h');
      call.responseHeaders.set('x-both', 'from headers');
      call.responseMetadata.set('x-both', 'from trailers');
      return handlers.echo(request, call);
    },
  });
  await server.start();
  const client = new RpcClient({ service: ECHO, addresses: [`127.0.0.1:${server.port}`] });
  t.teardown(async () => { await client.close(); await server.close(); });
  const result = await client.invokeWithResult('Echo', { message: 'hi' });
  t.equal(result.metadata.get('x-header'), 'h', 'a header the handler set');
  t.equal(result.metadata.get('x-both'), 'from trailers', 'a key set in both: the trailer wins');
  t.equal(result.metadata.get('served-by'), 'a', 'the handler\'s own trailers are still there');
});

t.test('many concurrent calls share one connection', async (t) => {
  const { server, address } = await startEchoServer('a');
  const client = new RpcClient({ service: ECHO, addresses: [address] });
  const stub = client.stub<EchoStub>();
  t.teardown(async () => { await client.close(); await server.close(); });
  const replies = await Promise.all(Array.from({ length: 500 }, (_, i) => stub.echo({ message: `m${i}`, delayMs: i % 7 })));
  t.same(replies.map((r) => r.message), Array.from({ length: 500 }, (_, i) => `m${i}`), 'every reply matches its request');
  t.equal(server.connectionCount, 1, 'one connection carried all 500 calls');
});

t.test('a deadline fails the call and aborts the handler', async (t) => {
  const { server, address, stats } = await startEchoServer('a');
  const client = new RpcClient({ service: ECHO, addresses: [address] });
  t.teardown(async () => { await client.close(); await server.close(); });
  const started = performance.now();
  // The handler would answer only after 60 s: the deadline, even one a stalled machine fires late, ends the call first.
  const error = await client.invoke('Echo', { delayMs: 60_000 }, { timeoutMs: 100 }).catch((e: RpcError) => e);
  const elapsed = performance.now() - started;
  t.type(error, RpcError);
  t.equal((error as RpcError).code, Code.DEADLINE_EXCEEDED);
  t.ok(elapsed >= 95, `waited for the deadline (${elapsed.toFixed(0)} ms)`);
  await t.resolveMatch(waitFor(() => stats.aborted.length === 1), true);
  t.ok(['DEADLINE_EXCEEDED', 'CANCELLED'].includes(stats.aborted[0]!), `handler signal fired (${stats.aborted[0]})`);
});

t.test('a caller cancel reaches the server handler', async (t) => {
  const { server, address, stats } = await startEchoServer('a');
  // Neither the handler's delay nor the call's deadline can end the call before the cancel does, however slow the machine.
  const client = new RpcClient({ service: ECHO, addresses: [address], timeoutMs: 60_000 });
  t.teardown(async () => { await client.close(); await server.close(); });
  const controller = new AbortController();
  const call = client.invoke('Echo', { delayMs: 60_000 }, { signal: controller.signal });
  await client.invoke('Echo', {}); // the slow call is now on the wire, ahead of this one
  controller.abort();
  const error = (await call.catch((e: unknown) => e)) as RpcError;
  t.equal(error.code, Code.CANCELLED);
  await waitFor(() => stats.aborted.length === 1);
  t.same(stats.aborted, ['CANCELLED']);
});

t.test('unknown method and service are UNIMPLEMENTED and marked not executed', async (t) => {
  const { server, address } = await startEchoServer('a');
  const client = new RpcClient({ service: ECHO_PLUS, addresses: [address] });
  const other = new RpcClient({ service: { ...ECHO, name: 'test.Nope' }, addresses: [address] });
  t.teardown(async () => { await client.close(); await other.close(); await server.close(); });
  const missing = (await client.invoke('Missing', {}).catch((e: unknown) => e)) as RpcError;
  t.equal(missing.code, Code.UNIMPLEMENTED);
  t.match(missing.message, /test\.Echo\/Missing does not exist/);
  t.equal(missing.mayHaveRun, false);
  const nope = (await other.invoke('Echo', {}).catch((e: unknown) => e)) as RpcError;
  t.equal(nope.code, Code.UNIMPLEMENTED);
  t.match(nope.message, /test\.Nope is not served here/);
  t.equal(((await client.invoke('NoSuch', {}).catch((e: unknown) => e)) as RpcError).code, Code.UNIMPLEMENTED);
});

t.test('a body the server cannot decode is INVALID_ARGUMENT, and the server goes on', async (t) => {
  const { server, address } = await startEchoServer('a');
  const garbage = { encode: () => Buffer.from('{not json'), decode: (b: Uint8Array) => JSON.parse(Buffer.from(b).toString()) };
  const broken = new RpcClient({
    service: { name: ECHO.name, methods: { Echo: { ...ECHO.methods.Echo!, requestCodec: garbage } } },
    addresses: [address],
  });
  const client = new RpcClient({ service: ECHO, addresses: [address] });
  t.teardown(async () => { await broken.close(); await client.close(); await server.close(); });
  const error = (await broken.invoke('Echo', {}).catch((e: unknown) => e)) as RpcError;
  t.equal(error.code, Code.INVALID_ARGUMENT);
  t.match(error.message, /could not be decoded/);
  t.equal(((await client.invoke('Echo', { message: 'ok' })) as { message: string }).message, 'ok');
});

t.test('handler errors keep their code; plain errors become UNKNOWN', async (t) => {
  const server = new RpcServer({ host: '127.0.0.1' });
  server.addService(ECHO, {
    echo: async () => { throw new RpcError(Code.NOT_FOUND, 'no such user'); },
    mutate: async () => { throw new Error('boom'); },
  });
  await server.start();
  const client = new RpcClient({ service: ECHO, addresses: [`127.0.0.1:${server.port}`] });
  t.teardown(async () => { await client.close(); await server.close(); });
  const notFound = (await client.invoke('Echo', {}).catch((e: unknown) => e)) as RpcError;
  t.equal(notFound.code, Code.NOT_FOUND);
  t.equal(notFound.message, 'no such user');
  t.equal(notFound.mayHaveRun, true);
  const unknown = (await client.invoke('Mutate', {}).catch((e: unknown) => e)) as RpcError;
  t.equal(unknown.code, Code.UNKNOWN);
  t.match(unknown.message, /boom/);
});

t.test('providers are discovered through a registry and filtered by version range', async (t) => {
  const registry = new MemoryRegistry();
  const v1 = new RpcServer({ host: '127.0.0.1', registry });
  v1.addService(ECHO, echoHandlers('v1'), { version: '1.4.0' });
  const v2 = new RpcServer({ host: '127.0.0.1', registry });
  v2.addService(ECHO, echoHandlers('v2'), { version: '2.0.1' });
  await Promise.all([v1.start(), v2.start()]);
  const client = new RpcClient({ service: ECHO, registry, version: '^2.0.0' });
  const stub = client.stub<EchoStub>();
  t.teardown(async () => { await client.close(); await v1.close(); await v2.close(); });
  const served = new Set<string>();
  for (let i = 0; i < 20; i++) served.add((await stub.echo({})).servedBy);
  t.same([...served], ['v2']);
  t.equal(client.endpoints.length, 1);
});

t.test('round robin spreads calls evenly; random honours weights', async (t) => {
  const registry = new MemoryRegistry();
  const servers = await Promise.all(['a', 'b', 'c'].map(async (name, i) => {
    const server = new RpcServer({ host: '127.0.0.1', registry, weight: [100, 100, 400][i] });
    server.addService(ECHO, echoHandlers(name));
    return server.start();
  }));
  const rr = new RpcClient({ service: ECHO, registry });
  const random = new RpcClient({ service: ECHO, registry, loadBalancer: 'random' });
  t.teardown(async () => { await rr.close(); await random.close(); await Promise.all(servers.map((s) => s.close())); });
  const count = async (client: RpcClient, n: number) => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const { servedBy } = (await client.invoke('Echo', {})) as { servedBy: string };
      counts[servedBy] = (counts[servedBy] ?? 0) + 1;
    }
    return counts;
  };
  t.same(await count(rr, 300), { a: 100, b: 100, c: 100 });
  const weighted = await count(random, 1200);
  t.ok(weighted.c! > 600 && weighted.c! < 1000, `the weight-400 provider got ${weighted.c} of 1200 (expected ≈ 800)`);
});

t.test('an unknown load balancer name is a coded start-up error', async (t) => {
  const client = new RpcClient({ service: ECHO, addresses: ['127.0.0.1:1'], loadBalancer: 'nope' });
  await t.rejects(client.start(), { code: 'ERR_UNKNOWN_LOAD_BALANCER', message: /known: round-robin, random/ });
  await client.close();
});

t.test('waitForReady resolves once enough providers are discovered, and fails clearly otherwise', async (t) => {
  const registry = new MemoryRegistry();
  const client = new RpcClient({ service: ECHO, registry });
  t.teardown(() => client.close());
  const waiting = client.waitForReady({ timeoutMs: 30_000, minEndpoints: 2 }); // a guard against a hang only
  const servers = await Promise.all(['a', 'b'].map(async (name) => {
    const server = new RpcServer({ host: '127.0.0.1', registry });
    server.addService(ECHO, echoHandlers(name));
    return server.start();
  }));
  t.teardown(() => Promise.all(servers.map((s) => s.close())));
  await waiting;
  t.equal(client.endpoints.length, 2);
  await t.rejects(client.waitForReady({ timeoutMs: 50, minEndpoints: 3 }), { code: Code.UNAVAILABLE, message: /2 of 3 providers discovered within 50 ms/ });
});
