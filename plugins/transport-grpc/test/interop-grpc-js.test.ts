import * as grpc from '@grpc/grpc-js';
import { Code, RpcError } from '@trellis/core';
import { makeTestCertificates } from '@trellis/testkit';
import t from 'tap';
import { grpcProtoMissing } from './interop/messages.js';
import { runGrpcJsClient } from './interop/grpc-js-client.js';
import { startGrpcJsTestServer } from './interop/grpc-js-server.js';
import { KernelInteropClients, runKernelClient } from './interop/kernel-client.js';
import { startKernelTestServer } from './interop/kernel-test-service.js';
import { assertCases } from './interop/report.js';

/**
 * The interop cases between grpc-js and Trellis as an application uses it: TestService as an
 * RpcServer service on its gRPC listener, and RpcClient calls through the kernel's pipeline.
 */
const protoMissing = grpcProtoMissing();

const certs = makeTestCertificates();
/** grpc-js servers cannot compress responses (see kernel-client.ts). */
const GRPC_JS_SERVER = { serverCompresses: false, serverSeesCompression: true };

t.test('grpc-js client → Trellis RpcServer (h2c)', { skip: protoMissing }, async (t) => {
  const server = await startKernelTestServer();
  t.teardown(() => server.close({ graceMs: 100 }));
  assertCases(t, 'grpc-js → Trellis', await runGrpcJsClient(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure()));
});

t.test('grpc-js client → Trellis RpcServer (TLS, ALPN h2)', { skip: protoMissing }, async (t) => {
  const server = await startKernelTestServer({ tls: { key: certs.serverKey, cert: certs.serverCert } });
  t.teardown(() => server.close({ graceMs: 100 }));
  assertCases(t, 'grpc-js → Trellis (TLS)', await runGrpcJsClient(`localhost:${server.port}`, grpc.credentials.createSsl(certs.ca)));
});

t.test('Trellis RpcClient → grpc-js server (h2c)', { skip: protoMissing }, async (t) => {
  const server = await startGrpcJsTestServer(grpc.ServerCredentials.createInsecure());
  const clients = new KernelInteropClients(`grpc://127.0.0.1:${server.port}`);
  t.teardown(async () => {
    await clients.close();
    await server.close();
  });
  assertCases(t, 'Trellis → grpc-js', await runKernelClient(clients, GRPC_JS_SERVER));
});

t.test('Trellis RpcClient → grpc-js server (TLS, ALPN h2)', { skip: protoMissing }, async (t) => {
  const server = await startGrpcJsTestServer(grpc.ServerCredentials.createSsl(null, [{ private_key: certs.serverKey, cert_chain: certs.serverCert }]));
  const clients = new KernelInteropClients(`grpcs://127.0.0.1:${server.port}`, { tls: { ca: certs.ca, servername: 'localhost' } });
  t.teardown(async () => {
    await clients.close();
    await server.close();
  });
  assertCases(t, 'Trellis → grpc-js (TLS)', await runKernelClient(clients, GRPC_JS_SERVER));
});

t.test('grpc-encoding metadata on RpcClient → RpcServer: deflate works, an unknown encoding is refused before sending', { skip: protoMissing }, async (t) => {
  const server = await startKernelTestServer();
  const clients = new KernelInteropClients(`grpc://127.0.0.1:${server.port}`);
  t.teardown(async () => {
    await clients.close();
    await server.close({ graceMs: 100 });
  });
  const deflated = await clients.test.invokeWithResult('UnaryCall', { responseSize: 3, expectCompressed: { value: true } }, { metadata: { 'grpc-encoding': 'deflate' } });
  t.same((deflated.response as { payload: { body: Buffer } }).payload.body, Buffer.alloc(3), 'the handler saw a compressed (deflate) request and answered');
  const refused = await clients.test.invoke('UnaryCall', {}, { metadata: { 'grpc-encoding': 'br' } }).catch((e: unknown) => e);
  t.ok(refused instanceof RpcError, 'refused with an RpcError');
  t.match(refused, { code: Code.INVALID_ARGUMENT, mayHaveRun: false, message: /grpc-encoding.*"br".*gzip, deflate or identity/ }, 'INVALID_ARGUMENT naming the value, never sent');
  const stream = clients.test.stream('FullDuplexCall', [], { metadata: { 'grpc-encoding': 'br' } });
  await t.rejects(stream.trailers, { code: Code.INVALID_ARGUMENT }, 'a stream with it fails the same way');
});
