import t from 'tap';
import { GrpcClient, GrpcServer, GrpcServiceRegistry } from '../src/index.js';
import { grpcProtoMissing } from './interop/messages.js';
import { generatePythonMessages, pythonPeerMissing, runPythonClient, startPythonServer } from './interop/python-peer.js';
import { assertCases } from './interop/report.js';
import { runTrellisClient } from './interop/trellis-client.js';
import { trellisTestService } from './interop/trellis-test-service.js';

const missing = grpcProtoMissing() ?? pythonPeerMissing();
// CI installs the peer (scripts/ensure-registries.sh); only a hand-run without it skips, and says so.
if (missing !== undefined && process.env.TRELLIS_REQUIRE_REGISTRIES === '1') throw new Error(missing);

t.test('python3-grpcio (C-core) ⇄ Trellis', { skip: missing }, async (t) => {
  const generated = generatePythonMessages();
  t.teardown(generated.remove);

  t.test('python3-grpcio client → Trellis server', async (t) => {
    const server = new GrpcServer(new GrpcServiceRegistry().add('grpc.testing.TestService', trellisTestService()));
    const { port } = await server.listen({ host: '127.0.0.1' });
    t.teardown(() => server.close(1000));
    assertCases(t, 'grpcio → Trellis', await runPythonClient(generated.dir, `127.0.0.1:${port}`));
  });

  t.test('Trellis client → python3-grpcio server', async (t) => {
    const server = await startPythonServer(generated.dir);
    const client = new GrpcClient();
    t.teardown(async () => {
      client.close();
      await server.stop();
    });
    assertCases(t, 'Trellis → grpcio', await runTrellisClient(client, `127.0.0.1:${server.port}`, { serverCompresses: true, serverSeesCompression: false }));
  });
});
