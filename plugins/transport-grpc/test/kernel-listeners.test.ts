import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { breaker } from '@trellis/breaker';
import { loadProto } from '@trellis/codec-protobuf';
import { Code, MemoryRegistry, RpcClient, RpcError, RpcServer, TcpServerTransport, type InstanceInfo, type ServerInterceptor } from '@trellis/core';
import type { ServerTransport } from '@trellis/core/spi';
import { EtcdRegistry } from '@trellis/discovery-etcd';
import { health } from '@trellis/health';
import { retry } from '@trellis/retry';
import { createEchoHandlers, ECHO_PROTO_PATH, loadEchoService, makeTestCertificates, startEtcd, type EchoReply } from '@trellis/testkit';
import t from 'tap';
import { GrpcClientTransport, GrpcServerTransport, HealthStatusSource, standardServices } from '../src/index.js';
import { GRPC_PROTO_DIR, grpcProtoMissing } from './interop/messages.js';

/**
 * Issue #19 phase B through the public API: one RpcServer serving the native protocol and gRPC on
 * two ports, instance documents naming both, and consumers that pick a transport per endpoint.
 */
const protoMissing = grpcProtoMissing();
const echoService = loadEchoService();

/** Counts the requests each listener's transport handed to the kernel: which listener served. */
function counted(inner: ServerTransport, counts: Map<string, number>, name: string): ServerTransport {
  return {
    listen: (options, handler, streams) => inner.listen(options, (request, exchange) => {
      counts.set(name, (counts.get(name) ?? 0) + 1);
      handler(request, exchange);
    }, streams),
  };
}

type HealthClient = { check(r: object, cb: (e: Error | null, r?: { status: string }) => void): void; close(): void };

function grpcHealthClient(port: number): HealthClient {
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync('grpc/health/v1/health.proto', { includeDirs: [GRPC_PROTO_DIR], enums: String })) as unknown as {
    grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
  };
  return new pkg.grpc.health.v1.Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as HealthClient;
}

function check(client: HealthClient): Promise<string> {
  return new Promise((resolve, reject) => client.check({ service: '' }, (e, r) => (e ? reject(e) : resolve(r!.status))));
}

type EchoStub = { echo(r: object, m: grpc.Metadata, cb: (e: grpc.ServiceError | null, r?: EchoReply) => void): void; close(): void };

function grpcEchoClient(port: number): EchoStub {
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(ECHO_PROTO_PATH, { longs: String })) as unknown as {
    trellis: { test: { EchoService: grpc.ServiceClientConstructor } };
  };
  return new pkg.trellis.test.EchoService(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as EchoStub;
}

t.test('one RpcServer, two listeners: native and gRPC serve the same handlers and interceptors; the document names both', { skip: protoMissing }, async (t) => {
  const registry = new MemoryRegistry();
  const seen: string[] = [];
  const interceptor: ServerInterceptor = (next) => (call) => {
    seen.push(call.method.name);
    return next(call);
  };
  const status = new HealthStatusSource();
  const statuses: string[] = [];
  status.onChange((service, now) => statuses.push(`${service || 'server'}:${now}`));
  const healthPlugin = health();
  const server = new RpcServer({
    host: '127.0.0.1',
    registry,
    listeners: [
      { protocol: 'grpc', transport: new GrpcServerTransport({ services: standardServices({ health: status }), health: status }) },
      { protocol: 'trellis' },
    ],
    plugins: [healthPlugin, { meta: { name: 'seen', kernel: '*' }, setupServer: (ctx) => ctx.addInterceptor(interceptor, 1000) }],
  }).addService(echoService, createEchoHandlers({ servedBy: 'both' }));
  await server.start();
  let closed = false;
  t.teardown(() => (closed ? undefined : server.close({ graceMs: 200 })));

  const [native, grpcListener] = server.listeners;
  t.match(server.listeners, [{ protocol: 'trellis', tls: false }, { protocol: 'grpc', tls: false }], 'the native listener comes first wherever it was listed');
  t.equal(server.port, native!.port, 'server.port is the native port');
  t.not(native!.port, grpcListener!.port, 'gRPC has its own port');

  const published: InstanceInfo[] = [];
  const subscription = registry.subscribe({ group: 'default', name: echoService.name }, (list) => published.push(...(list as unknown as InstanceInfo[])));
  t.teardown(() => subscription.dispose());
  await t.resolves(new Promise<void>((resolve) => setImmediate(resolve)));
  t.match(published[0], { port: native!.port, protocol: 'trellis', protocols: { trellis: { port: native!.port }, grpc: { port: grpcListener!.port, tls: false } } },
    'the instance document lists both protocols next to the native port');

  const trellisClient = new RpcClient({ service: echoService, addresses: [`127.0.0.1:${server.port}`] });
  t.teardown(() => trellisClient.close());
  t.match(await trellisClient.invoke('Echo', { message: 'native' }), { message: 'native', servedBy: 'both' });
  const grpcJs = grpcEchoClient(grpcListener!.port);
  t.teardown(() => grpcJs.close());
  const reply = await new Promise<EchoReply>((resolve, reject) => grpcJs.echo({ message: 'grpc' }, new grpc.Metadata(), (e, r) => (e ? reject(e) : resolve(r!))));
  t.match(reply, { message: 'grpc', servedBy: 'both' });
  t.same(seen, ['Echo', 'Echo'], 'both ports went through the one interceptor chain');

  const probe = grpcHealthClient(grpcListener!.port);
  t.teardown(() => probe.close());
  t.equal(await check(probe), 'SERVING', 'gRPC health follows the kernel: SERVING once ready');
  healthPlugin.setServing(false);
  t.equal(await check(probe), 'NOT_SERVING', "the health plugin's setServing(false) reaches gRPC health through the kernel");
  healthPlugin.setServing(true);
  t.equal(await check(probe), 'SERVING');

  const order: string[] = [];
  status.onChange((_service, now) => order.push(`grpc-health:${now}`));
  const deregister = registry.deregister.bind(registry);
  registry.deregister = (key, info) => {
    order.push('deregister');
    return deregister(key, info);
  };
  closed = true;
  await server.close({ graceMs: 1000 });
  t.equal(order[0], 'grpc-health:NOT_SERVING', 'NOT_SERVING from the start of the graceful stop, before deregistering');
  t.ok(order.includes('deregister'));
  t.same(statuses.slice(0, 2), ['server:NOT_SERVING', 'server:SERVING'], 'NOT_SERVING while starting, SERVING once ready');
  t.equal(server.connectionCount, 0, 'every listener closed');
  // (a refused dial answers at once; 10 s only keeps a stalled machine from turning it into a timeout)
  const refused = await trellisClient.invoke('Echo', { message: 'late' }, { timeoutMs: 10_000 }).catch((e: RpcError) => e);
  t.match(refused, { code: Code.UNAVAILABLE }, 'the native port is closed too');
});

t.test('a listener that cannot listen closes the ones already open and rejects ERR_LISTEN_FAILED', { skip: protoMissing }, async (t) => {
  const blocker = new RpcServer({ host: '127.0.0.1' }).addService(echoService, createEchoHandlers({ servedBy: 'blocker' }));
  await blocker.start();
  t.teardown(() => blocker.close({ graceMs: 0 }));
  const server = new RpcServer({
    host: '127.0.0.1',
    listeners: [{ protocol: 'trellis', port: 0 }, { protocol: 'grpc', port: blocker.port, transport: new GrpcServerTransport() }],
  }).addService(echoService, createEchoHandlers({ servedBy: 'x' }));
  const error = await server.start().catch((e: Error & { code?: string; cause?: { code?: string } }) => e);
  t.match(error, { code: 'ERR_LISTEN_FAILED', message: /grpc listener cannot listen on 127\.0\.0\.1:\d+/, cause: { code: 'EADDRINUSE' } });
  t.same(server.listeners, [], 'nothing listens after the failed start');
});

/** A grpc-js server of EchoService (no Trellis in it); `failing` answers every call UNAVAILABLE. */
async function grpcJsEchoServer(name: string, failing: boolean): Promise<{ port: number; calls: number; close(): Promise<void> }> {
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(ECHO_PROTO_PATH, { longs: String })) as unknown as {
    trellis: { test: { EchoService: grpc.ServiceClientConstructor } };
  };
  const server = new grpc.Server();
  const state = { port: 0, calls: 0, close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) };
  const echo = (call: grpc.ServerUnaryCall<{ message: string }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
    state.calls++;
    if (failing) return callback({ code: grpc.status.UNAVAILABLE, details: 'overloaded' });
    callback(null, { message: call.request.message, servedBy: name, attempt: 1 });
  };
  server.addService(pkg.trellis.test.EchoService.service, { echo, mutate: echo });
  state.port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, port) => (e ? reject(e) : resolve(port))));
  return state;
}

t.test('a Trellis consumer calls gRPC-only grpc-js providers by grpc:// through retry, breaker and health', { skip: protoMissing }, async (t) => {
  const failing = await grpcJsEchoServer('a', true);
  t.teardown(() => failing.close());
  const good = await grpcJsEchoServer('b', false);
  t.teardown(() => good.close());
  const client = new RpcClient({
    service: echoService,
    addresses: [`grpc://127.0.0.1:${failing.port}`, `grpc://127.0.0.1:${good.port}`],
    transports: { grpc: new GrpcClientTransport() },
    plugins: [health(), breaker(), retry({ maxAttempts: 3, backoff: { initialMs: 1, maxMs: 5 } })],
  });
  t.teardown(() => client.close());
  for (let i = 0; i < 4; i++) {
    const result = await client.invokeWithResult('Echo', { message: `hello ${i}` });
    t.match(result.response, { message: `hello ${i}`, servedBy: 'b' }, 'every call succeeds on the healthy grpc-js provider');
    t.equal(result.endpoint.id, `127.0.0.1:${good.port}`, 'endpoint ids are host:port, as for native endpoints');
  }
  t.ok(failing.calls >= 1, `the failing provider was tried (${failing.calls} calls) and the retry plugin went elsewhere`);
  t.equal(client.healthView.state(client.endpoints.find((e) => e.port === good.port)!), 'healthy', 'the health plugin sees the gRPC connection');

  t.throws(() => new RpcClient({ service: echoService, addresses: [`grpc://127.0.0.1:${good.port}`] }), { code: 'ERR_INVALID_OPTION' },
    'grpc:// without a gRPC transport is refused up front');
});

t.test('a mixed fleet from etcd: native where both sides have it, gRPC for the gRPC-only provider', { skip: protoMissing, timeout: 120_000 }, async (t) => {
  const etcd = await startEtcd();
  t.teardown(() => etcd.stop());
  const registry = () => {
    const r = new EtcdRegistry({ endpoints: etcd.endpoints, snapshotDir: false });
    t.teardown(() => r.close());
    return r;
  };
  const counts = new Map<string, number>();
  const both = new RpcServer({
    host: '127.0.0.1',
    registry: registry(),
    listeners: [
      { protocol: 'trellis', transport: counted(new TcpServerTransport(), counts, 'both/trellis') },
      { protocol: 'grpc', transport: counted(new GrpcServerTransport(), counts, 'both/grpc') },
    ],
  }).addService(echoService, createEchoHandlers({ servedBy: 'both' }));
  const grpcOnly = new RpcServer({
    host: '127.0.0.1',
    registry: registry(),
    listeners: [{ protocol: 'grpc', transport: counted(new GrpcServerTransport(), counts, 'grpc-only/grpc') }],
  }).addService(echoService, createEchoHandlers({ servedBy: 'grpc-only' }));
  await both.start();
  t.teardown(() => both.close({ graceMs: 200 }));
  await grpcOnly.start();
  t.teardown(() => grpcOnly.close({ graceMs: 200 }));

  const client = new RpcClient({
    service: echoService,
    registry: registry(),
    transports: { grpc: new GrpcClientTransport() },
    protocols: ['trellis', 'grpc'],
  });
  t.teardown(() => client.close());
  await client.waitForReady({ minEndpoints: 2, timeoutMs: 20_000 });
  t.same(client.endpoints.map((e) => e.id).sort(), [`127.0.0.1:${both.port}`, `127.0.0.1:${grpcOnly.port}`].sort(), 'endpoint ids are the registry keys');
  const servedBy = new Map<string, number>();
  for (let i = 0; i < 20; i++) {
    const reply = await client.invoke('Echo', { message: `m${i}` }) as EchoReply;
    servedBy.set(reply.servedBy, (servedBy.get(reply.servedBy) ?? 0) + 1);
  }
  t.equal(servedBy.get('both'), 10, 'round robin over both providers');
  t.equal(servedBy.get('grpc-only'), 10);
  t.same(Object.fromEntries(counts), { 'both/trellis': 10, 'grpc-only/grpc': 10 },
    'the provider serving both protocols was called natively; the gRPC-only one over gRPC; no call went to both/grpc');

  // An old consumer (one transport) keeps using the native port and avoids what it cannot speak.
  const nativeOnly = new RpcClient({ service: echoService, registry: registry(), transports: {} });
  t.teardown(() => nativeOnly.close());
  await nativeOnly.waitForReady({ minEndpoints: 2, timeoutMs: 20_000 });
  for (let i = 0; i < 4; i++) t.match(await nativeOnly.invoke('Echo', { message: 'old' }), { servedBy: 'both' }, 'a native-only consumer is served by the native port');
});

t.test('reflection from ProtoPackage: standardServices takes the loaded package, no second list of files', { skip: protoMissing }, async (t) => {
  const proto = loadProto('grpc/testing/test.proto', { includeDirs: [GRPC_PROTO_DIR] });
  t.same(proto.files, ['grpc/testing/test.proto']);
  t.same(proto.includeDirs, [GRPC_PROTO_DIR]);
  const registry = standardServices({ reflection: proto });
  t.ok(registry.services.includes('grpc.reflection.v1.ServerReflection'), 'reflection built from the package');
});

t.test('a gRPC listener over TLS is published with tls: true; consumers reach it from the registry and by grpcs://', { skip: protoMissing }, async (t) => {
  const certs = makeTestCertificates();
  const registry = new MemoryRegistry();
  const server = new RpcServer({
    host: '127.0.0.1',
    registry,
    listeners: [{ protocol: 'trellis' }, { protocol: 'grpc', transport: new GrpcServerTransport({ tls: { key: certs.serverKey, cert: certs.serverCert } }) }],
  }).addService(echoService, createEchoHandlers({ servedBy: 'tls' }));
  await server.start();
  t.teardown(() => server.close({ graceMs: 200 }));
  const grpcPort = server.listeners[1]!.port;
  t.match(server.listeners[1], { protocol: 'grpc', tls: true });

  const transport = new GrpcClientTransport({ tls: { ca: certs.ca, servername: 'localhost' }, useTls: (e) => e.protocol === 'grpcs' || e.protocols?.grpc?.tls === true });
  t.teardown(() => transport.close());
  const viaRegistry = new RpcClient({ service: echoService, registry, transports: { grpc: transport }, protocols: ['grpc'] });
  t.teardown(() => viaRegistry.close());
  await viaRegistry.waitForReady();
  t.match(viaRegistry.endpoints[0], { port: server.port, protocols: { grpc: { port: grpcPort, tls: true } } }, 'the document says the gRPC port is TLS');
  t.match(await viaRegistry.invoke('Echo', { message: 'over tls' }), { message: 'over tls', servedBy: 'tls' }, 'called over gRPC with TLS, found through the registry');

  const byAddress = new RpcClient({ service: echoService, addresses: [`grpcs://127.0.0.1:${grpcPort}`], transports: { grpc: transport } });
  t.teardown(() => byAddress.close());
  t.match(await byAddress.invoke('Echo', { message: 'grpcs' }), { servedBy: 'tls' }, 'grpcs:// without a registry');
});
