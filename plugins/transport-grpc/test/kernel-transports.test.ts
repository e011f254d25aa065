import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Code, RpcClient, RpcError, RpcServer, type ServerInterceptor } from '@trellis/core';
import { ECHO_PROTO_PATH, loadEchoService } from '@trellis/testkit';
import t from 'tap';
import { GrpcClientTransport, GrpcServerTransport, HealthStatusSource, standardServices } from '../src/index.js';
import { startGrpcJsTestServer } from './interop/grpc-js-server.js';
import { GRPC_PROTO_DIR, grpcProtoMissing } from './interop/messages.js';
import { loadProto } from '@trellis/codec-protobuf';

const protoMissing = grpcProtoMissing();

/**
 * The engine under the kernel's existing SPI (no kernel change): an RpcServer whose transport is
 * gRPC serves grpc-js clients through its interceptors; an RpcClient whose transport is gRPC calls
 * a grpc-js server through its pipeline. Streams through the kernel: test/kernel-streams.test.ts.
 */
const echoService = loadEchoService();

function echoImplementation() {
  return {
    async echo(request: { message: string; failCode: number; failMessage: string }, call: { metadata: Map<string, string> }) {
      if (request.failCode) throw new RpcError(request.failCode as Code, request.failMessage);
      return { message: `${request.message} (caller ${call.metadata.get('x-caller') ?? '?'})`, id: 1, values: [], servedBy: 'grpc', attempt: 1 };
    },
    async mutate(request: { message: string }) {
      return { message: request.message, id: 1, values: [], servedBy: 'grpc', attempt: 1 };
    },
  };
}

t.test('RpcServer over GrpcServerTransport: grpc-js clients call Trellis services through the server interceptors', { skip: protoMissing }, async (t) => {
  const seen: string[] = [];
  const interceptor: ServerInterceptor = (next) => (call) => {
    seen.push(`${call.method.name}@attempt${call.attempt}`);
    return next(call);
  };
  const server = new RpcServer({
    host: '127.0.0.1',
    transport: new GrpcServerTransport({ services: standardServices({ health: new HealthStatusSource() }) }),
    plugins: [{ meta: { name: 'test-interceptor', kernel: '*' }, setupServer: (ctx) => ctx.addInterceptor(interceptor, 1000) }],
  }).addService(echoService, echoImplementation());
  await server.start();
  t.teardown(() => server.close({ graceMs: 200 }));

  const definition = protoLoader.loadSync(ECHO_PROTO_PATH, { longs: String });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as { trellis: { test: { EchoService: grpc.ServiceClientConstructor } } };
  const client = new pkg.trellis.test.EchoService(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure()) as unknown as {
    echo(request: object, metadata: grpc.Metadata, callback: (error: grpc.ServiceError | null, reply?: { message: string }) => void): void;
    close(): void;
  };
  t.teardown(() => client.close());
  const metadata = new grpc.Metadata();
  metadata.set('x-caller', 'grpc-js');
  const reply = await new Promise<{ message: string }>((resolve, reject) => client.echo({ message: 'hi' }, metadata, (e, r) => (e ? reject(e) : resolve(r!))));
  t.equal(reply.message, 'hi (caller grpc-js)', 'a grpc-js client calls a Trellis handler, metadata included');
  const failure = await new Promise<grpc.ServiceError>((resolve) => client.echo({ message: 'x', failCode: Code.FAILED_PRECONDITION, failMessage: 'no way' }, new grpc.Metadata(), (e) => resolve(e!)));
  t.match(failure, { code: grpc.status.FAILED_PRECONDITION, details: 'no way' }, "a handler's RpcError becomes the gRPC status");
  t.same(seen, ['Echo@attempt1', 'Echo@attempt1'], 'both calls ran through the server interceptor chain');

  const health = grpc.loadPackageDefinition(protoLoader.loadSync('grpc/health/v1/health.proto', { includeDirs: [GRPC_PROTO_DIR], enums: String })) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } };
  const healthClient = new health.grpc.health.v1.Health(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure()) as unknown as { check(r: object, cb: (e: Error | null, r?: { status: string }) => void): void; close(): void };
  t.teardown(() => healthClient.close());
  const status = await new Promise<{ status: string }>((resolve, reject) => healthClient.check({ service: '' }, (e, r) => (e ? reject(e) : resolve(r!))));
  t.equal(status.status, 'SERVING', 'standard services are chained before the kernel');
});

t.test('RpcClient over GrpcClientTransport: a static grpc-js provider called through the pipeline', { skip: protoMissing }, async (t) => {
  const grpcJs = await startGrpcJsTestServer(grpc.ServerCredentials.createInsecure());
  t.teardown(() => grpcJs.close());
  const testing = loadProto('grpc/testing/test.proto', { includeDirs: [GRPC_PROTO_DIR] }).service('grpc.testing.TestService');
  const client = new RpcClient({ service: testing, addresses: [`127.0.0.1:${grpcJs.port}`], transport: new GrpcClientTransport() });
  t.teardown(() => client.close());
  const stub = client.stub<{ unaryCall(request: object): Promise<{ payload: { body: Buffer } }> }>();
  const reply = await stub.unaryCall({ responseSize: 1234 });
  t.equal(reply.payload.body.length, 1234, 'a unary call through RpcClient reached grpc-js and was decoded');
  const error = await client.invoke('UnaryCall', { responseStatus: { code: Code.ABORTED, message: 'from grpc-js' } }).catch((e: RpcError) => e);
  t.match(error, { code: Code.ABORTED, message: 'from grpc-js' }, 'the peer status comes back as an RpcError');
});

t.test('RpcClient ⇄ RpcServer both over gRPC; an unknown method is UNIMPLEMENTED that never ran', { skip: protoMissing }, async (t) => {
  const server = new RpcServer({ host: '127.0.0.1', transport: new GrpcServerTransport() }).addService(echoService, echoImplementation());
  await server.start();
  t.teardown(() => server.close({ graceMs: 200 }));
  const client = new RpcClient({ service: echoService, addresses: [`127.0.0.1:${server.port}`], transport: new GrpcClientTransport() });
  t.teardown(() => client.close());
  const reply = await client.invoke('Echo', { message: 'both sides' }, { metadata: { 'x-caller': 'trellis' } }) as { message: string };
  t.equal(reply.message, 'both sides (caller trellis)');
  const transport = new GrpcClientTransport();
  t.teardown(() => transport.close());
  const missing = await transport.client.unary(`127.0.0.1:${server.port}`, '/trellis.test.EchoService/Nope', new Uint8Array(0)).catch((e: RpcError) => e);
  t.match(missing, { code: Code.UNIMPLEMENTED }, "the kernel's dispatch answers UNIMPLEMENTED over gRPC too");
});
