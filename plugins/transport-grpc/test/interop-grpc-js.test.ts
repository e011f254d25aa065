import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { grpcProtoMissing } from './interop/messages.js';
import { GrpcClient, GrpcServer, GrpcServiceRegistry } from '../src/index.js';
import { makeCertificates } from './fixtures/certificates.js';
import { runGrpcJsClient } from './interop/grpc-js-client.js';
import { startGrpcJsTestServer } from './interop/grpc-js-server.js';
import { assertCases } from './interop/report.js';
import { runTrellisClient } from './interop/trellis-client.js';
import { trellisTestService } from './interop/trellis-test-service.js';

const protoMissing = grpcProtoMissing();

const certs = makeCertificates();
/** grpc-js servers cannot compress responses (see trellis-client.ts). */
const GRPC_JS_SERVER = { serverCompresses: false, serverSeesCompression: true };
const registry = () => new GrpcServiceRegistry().add('grpc.testing.TestService', trellisTestService());

t.test('grpc-js client → Trellis server (h2c)', { skip: protoMissing }, async (t) => {
  const server = new GrpcServer(registry());
  const { port } = await server.listen({ host: '127.0.0.1' });
  t.teardown(() => server.close(1000));
  assertCases(t, 'grpc-js → Trellis', await runGrpcJsClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure()));
});

t.test('grpc-js client → Trellis server (TLS, ALPN h2)', { skip: protoMissing }, async (t) => {
  const server = new GrpcServer(registry(), { tls: { key: certs.serverKey, cert: certs.serverCert } });
  const { port } = await server.listen({ host: '127.0.0.1' });
  t.teardown(() => server.close(1000));
  assertCases(t, 'grpc-js → Trellis (TLS)', await runGrpcJsClient(`localhost:${port}`, grpc.credentials.createSsl(certs.ca)));
});

t.test('Trellis client → grpc-js server (h2c)', { skip: protoMissing }, async (t) => {
  const server = await startGrpcJsTestServer(grpc.ServerCredentials.createInsecure());
  const client = new GrpcClient();
  t.teardown(async () => {
    client.close();
    await server.close();
  });
  assertCases(t, 'Trellis → grpc-js', await runTrellisClient(client, `127.0.0.1:${server.port}`, GRPC_JS_SERVER));
});

t.test('Trellis client → grpc-js server (TLS, ALPN h2)', { skip: protoMissing }, async (t) => {
  const server = await startGrpcJsTestServer(grpc.ServerCredentials.createSsl(null, [{ private_key: certs.serverKey, cert_chain: certs.serverCert }]));
  const client = new GrpcClient({ tls: { ca: certs.ca, servername: 'localhost' } });
  t.teardown(async () => {
    client.close();
    await server.close();
  });
  assertCases(t, 'Trellis → grpc-js (TLS)', await runTrellisClient(client, `grpcs://127.0.0.1:${server.port}`, GRPC_JS_SERVER));
});
