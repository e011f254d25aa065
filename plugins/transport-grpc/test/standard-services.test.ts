import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import t, { type Test } from 'tap';
import { RpcServer } from '@trellis/core';
import { GrpcServerTransport, HealthStatusSource, standardServices } from '../src/index.js';
import { generatePythonMessages, pythonPeerMissing, runPythonReflectionClient } from './interop/python-peer.js';
import { GRPC_PROTO_DIR, TEST_PROTO, grpcProtoMissing } from './interop/messages.js';
import { testingServices, testServiceHandlers } from './interop/kernel-test-service.js';
import { within } from './fixtures/engine.js';

const protoMissing = grpcProtoMissing();

type HealthClient = grpc.Client & {
  check(request: { service: string }, callback: (error: grpc.ServiceError | null, response?: { status: string }) => void): void;
  watch(request: { service: string }): grpc.ClientReadableStream<{ status: string }>;
};

async function start(t: Test, health: HealthStatusSource) {
  const services = standardServices({
    health,
    reflection: { files: [TEST_PROTO], includeDirs: [GRPC_PROTO_DIR] },
    services: () => ['grpc.testing.TestService'],
  });
  const server = new RpcServer({ host: '127.0.0.1', listeners: [{ protocol: 'grpc', port: 0, transport: new GrpcServerTransport({ services }) }] })
    .addService(testingServices().test, testServiceHandlers());
  await server.start();
  t.teardown(() => server.close({ graceMs: 1000 }));
  return server.port;
}

/** A grpc-js client for grpc.health.v1 from Debian's official health.proto (a codec this package did not write). */
function healthClient(port: number): HealthClient {
  const definition = protoLoader.loadSync('grpc/health/v1/health.proto', { includeDirs: [GRPC_PROTO_DIR], enums: String });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } };
  return new pkg.grpc.health.v1.Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as HealthClient;
}

t.test('grpc.health.v1.Health: Check and Watch follow the status source', { skip: protoMissing }, async (t) => {
  const health = new HealthStatusSource({ '': 'SERVING', 'grpc.testing.TestService': 'SERVING' });
  const client = healthClient(await start(t, health));
  t.teardown(() => client.close());
  const check = (service: string) => new Promise<{ status?: string; code?: number }>((resolve) =>
    client.check({ service }, (error, response) => resolve(error ? { code: error.code } : { status: response!.status })));

  t.same(await check(''), { status: 'SERVING' }, 'the server as a whole');
  t.same(await check('grpc.testing.TestService'), { status: 'SERVING' });
  t.same(await check('no.Such'), { code: grpc.status.NOT_FOUND }, 'an unknown service is NOT_FOUND (health spec)');

  const watch = client.watch({ service: 'grpc.testing.TestService' });
  const unknown = client.watch({ service: 'later.Service' });
  // Cancelling a grpc-js stream emits CANCELLED as an 'error' event.
  watch.on('error', () => undefined);
  unknown.on('error', () => undefined);
  const seen: string[] = [];
  const seenUnknown: string[] = [];
  const next = (stream: grpc.ClientReadableStream<{ status: string }>, into: string[]) => new Promise<void>((resolve) => stream.once('data', (m) => {
    into.push(m.status);
    resolve();
  }));
  await within(Promise.all([next(watch, seen), next(unknown, seenUnknown)]), 30_000, 'the first Watch messages');
  const changed = next(watch, seen);
  health.shutdown();
  await within(changed, 30_000, 'the NOT_SERVING update');
  const appeared = next(unknown, seenUnknown);
  health.set('later.Service', 'SERVING');
  await within(appeared, 30_000, 'the SERVING update');
  t.same(seen, ['SERVING', 'NOT_SERVING'], 'Watch streams the change of a graceful stop');
  t.same(seenUnknown, ['SERVICE_UNKNOWN', 'SERVING'], 'Watch of an unknown service says so, then follows it');
  t.same(await check(''), { status: 'NOT_SERVING' }, 'shutdown() flips the server too');
  watch.cancel();
  unknown.cancel();
});

const missing = pythonPeerMissing();
if (missing !== undefined && process.env.TRELLIS_REQUIRE_REGISTRIES === '1') throw new Error(missing);

t.test('server reflection (v1 and v1alpha): a grpcurl-style session from Python with no .proto at hand', { skip: protoMissing ?? missing }, async (t) => {
  const generated = generatePythonMessages();
  t.teardown(generated.remove);
  const port = await start(t, new HealthStatusSource());
  for (const version of ['v1', 'v1alpha'] as const) {
    const report = await runPythonReflectionClient(generated.dir, `127.0.0.1:${port}`, version) as {
      valid_host: string;
      services: string[];
      described: Record<string, Record<string, { input: string; output: string; client_streaming: boolean; input_fields: string[] }>>;
      file_by_filename: string[];
      unary_payload_size: number;
      health: string;
      missing: { kind: string; code: number };
    };
    t.equal(report.valid_host, 'test', `${version}: valid_host echoes the request's host`);
    t.same(report.services, [
      'grpc.testing.TestService', 'grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection',
    ], `${version}: list_services names the application's services and the standard ones`);
    const testService = report.described['grpc.testing.TestService']!;
    t.match(testService.UnaryCall, { input: 'grpc.testing.SimpleRequest', output: 'grpc.testing.SimpleResponse', client_streaming: false }, `${version}: UnaryCall described`);
    t.match(testService.FullDuplexCall, { input: 'grpc.testing.StreamingOutputCallRequest', client_streaming: true }, `${version}: a bidi method is described as streaming`);
    t.ok(testService.UnaryCall!.input_fields.includes('response_size'), `${version}: field names as written in the .proto (not camelCase)`);
    t.same(Object.keys(report.described['grpc.health.v1.Health']!), ['Check', 'Watch'], `${version}: the health service is described`);
    t.same(report.file_by_filename, ['grpc/testing/messages.proto'], `${version}: file_by_filename returns the file (no dependencies)`);
    t.equal(report.unary_payload_size, 10, `${version}: a call made with message classes built from reflection only`);
    t.equal(report.health, 'SERVING', `${version}: Health/Check through reflection-built types`);
    t.same(report.missing, { kind: 'error_response', code: 5 }, `${version}: an unknown symbol is an error response NOT_FOUND`);
  }
});
