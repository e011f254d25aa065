import { execFile } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { GrpcServer, GrpcServiceRegistry } from '../src/index.js';

/**
 * A script whose only work is one gRPC call must wait for its answer: a call in progress holds the
 * event loop (an idle connection does not, so a finished script still exits). Before, the client's
 * unref'd connection let such a process exit silently, with code 0, mid-call.
 */
t.test('a process awaiting a gRPC call stays alive until the answer, then exits', async (t) => {
  const registry = new GrpcServiceRegistry().add('test.Slow', {
    Wait: {
      kind: 'unary',
      handle: async () => {
        await new Promise((resolve) => setTimeout(resolve, 300));
        return new Uint8Array([1, 2, 3]);
      },
    },
  });
  const server = new GrpcServer(registry);
  const address = await server.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => server.close(0));
  const dist = join(__dirname, '..', 'dist', 'index.js');
  const script = `
    const { GrpcClient } = require(${JSON.stringify(dist)});
    new GrpcClient().unary('127.0.0.1:${address.port}', '/test.Slow/Wait', new Uint8Array(0), { timeoutMs: 10000 })
      .then((answer) => console.log('answered ' + answer.message.length + ' bytes'), (error) => console.log('failed ' + error));`;
  const started = performance.now();
  const output = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ['-e', script], { timeout: 30_000 }, (error, stdout) => (error ? reject(error) : resolve(stdout)));
  });
  t.equal(output.trim(), 'answered 3 bytes', 'the script printed the answer');
  t.ok(performance.now() - started >= 250, 'it waited for the slow answer');
});
