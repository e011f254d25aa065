import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import path from 'node:path';
import {
  Code, RpcClient, RpcError, RpcServer, type BidiStreamingCall, type ClientStreamingCall, type ServerInterceptor, type ServerStreamingCall,
} from '@trellis/core';
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

t.test('RpcClient over GrpcClientTransport: grpc-js streaming methods through the pipeline (issue #18)', { skip: protoMissing }, async (t) => {
  const grpcJs = await startGrpcJsTestServer(grpc.ServerCredentials.createInsecure());
  t.teardown(() => grpcJs.close());
  const testing = loadProto('grpc/testing/test.proto', { includeDirs: [GRPC_PROTO_DIR] }).service('grpc.testing.TestService');
  const client = new RpcClient({ service: testing, addresses: [`127.0.0.1:${grpcJs.port}`], transport: new GrpcClientTransport() });
  t.teardown(() => client.close());
  type Out = { payload: { body: Buffer } };
  const stub = client.stub<{
    streamingOutputCall: ServerStreamingCall<object, Out>;
    streamingInputCall: ClientStreamingCall<object, { aggregatedPayloadSize: number }>;
    fullDuplexCall: BidiStreamingCall<object, Out>;
  }>();
  const sizes: number[] = [];
  for await (const response of stub.streamingOutputCall({ responseParameters: [{ size: 10 }, { size: 20 }, { size: 30 }] })) sizes.push(response.payload.body.length);
  t.same(sizes, [10, 20, 30], 'server streaming from grpc-js');

  // grpc-js sends a client-streaming call's headers only with its answer: the kernel must send the
  // requests before the stream is set up, or both sides would wait for each other.
  async function* payloads() {
    for (const size of [100, 200, 300, 400]) yield { payload: { body: Buffer.alloc(size) } };
  }
  t.same(await stub.streamingInputCall(payloads()), { aggregatedPayloadSize: 1000 }, 'client streaming to grpc-js (headers only with the answer)');

  const duplex: number[] = [];
  const requests = [{ responseParameters: [{ size: 1 }] }, { responseParameters: [{ size: 2 }, { size: 3 }] }];
  for await (const response of stub.fullDuplexCall(requests)) duplex.push(response.payload.body.length);
  t.same(duplex, [1, 2, 3], 'bidi with grpc-js');

  const failed = await (async () => {
    for await (const _ of stub.streamingOutputCall({ responseParameters: [{ size: 1 }], responseStatus: { code: Code.ABORTED, message: 'stream status' } })) void _;
  })().catch((e: RpcError) => e);
  t.match(failed, { code: Code.ABORTED, message: 'stream status' }, "grpc-js's stream status ends the loop");
});

t.test('RpcServer over GrpcServerTransport: a grpc-js client calls Trellis stream handlers (issue #18)', async (t) => {
  const streamsProto = path.join(__dirname, 'fixtures', 'streams.proto');
  const streams = loadProto(streamsProto).service('trellis.streams.Streams');
  const server = new RpcServer({ host: '127.0.0.1', transport: new GrpcServerTransport() }).addService(streams, {
    async *watch(request: { count: number }) {
      for (let seq = 1; seq <= request.count; seq++) yield { seq, text: `event ${seq}` };
    },
    async record(requests: AsyncIterable<{ text: string }>) {
      let text = '';
      let count = 0;
      for await (const request of requests) {
        text += request.text;
        count++;
      }
      return { count, text };
    },
    async *chat(requests: AsyncIterable<{ seq: number; text: string }>) {
      for await (const request of requests) yield { seq: request.seq, text: request.text.toUpperCase() };
    },
    async ping(event: object) {
      return event;
    },
  });
  await server.start();
  t.teardown(() => server.close({ graceMs: 100 }));
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(streamsProto)) as unknown as { trellis: { streams: { Streams: grpc.ServiceClientConstructor } } };
  const client = new pkg.trellis.streams.Streams(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure()) as unknown as {
    watch(request: object): grpc.ClientReadableStream<{ seq: number }>;
    record(callback: (error: grpc.ServiceError | null, reply?: { count: number; text: string }) => void): grpc.ClientWritableStream<object>;
    chat(): grpc.ClientDuplexStream<object, { text: string }>;
    close(): void;
  };
  t.teardown(() => client.close());

  const seqs: number[] = [];
  for await (const event of client.watch({ count: 4 })) seqs.push(event.seq);
  t.same(seqs, [1, 2, 3, 4], 'a grpc-js client reads a Trellis server stream');

  const summary = await new Promise<{ count: number; text: string }>((resolve, reject) => {
    const call = client.record((error, reply) => (error ? reject(error) : resolve(reply!)));
    for (const text of ['a', 'b', 'c']) call.write({ text });
    call.end();
  });
  t.same(summary, { count: 3, text: 'abc' }, 'a grpc-js client streams to a Trellis handler');

  const chat = client.chat();
  const replies: string[] = [];
  chat.write({ seq: 1, text: 'one' });
  chat.write({ seq: 2, text: 'two' });
  chat.end();
  for await (const reply of chat) replies.push(reply.text);
  t.same(replies, ['ONE', 'TWO'], 'bidi between grpc-js and a Trellis handler');
});
