import { Code, RpcError, RpcServer } from '@trellis/core';
import { createEchoHandlers, loadEchoService } from '@trellis/testkit';
import t from 'tap';
import type { Test } from 'tap';
import { GrpcClient, GrpcServerTransport, ReflectionClient } from '../src/index.js';

// A method the RpcServer does not serve, called over its gRPC listener, is answered UNIMPLEMENTED at
// once, whatever the caller's stream kind: a bidi caller that waits for a reply before half-closing
// (a reflection client asking a server that serves no reflection, as `trellis describe grpc://…`
// does) used to get nothing until its deadline, because the call was taken for a unary one whose
// request had not ended yet.

const DEADLINE_MS = 20_000;

async function grpcServer(t: Test) {
  const server = new RpcServer({ listeners: [{ protocol: 'grpc', host: '127.0.0.1', port: 0, transport: new GrpcServerTransport() }] });
  server.addService(loadEchoService(), createEchoHandlers({ servedBy: 'grpc' }));
  await server.start();
  const client = new GrpcClient();
  t.teardown(async () => {
    client.close();
    await server.close({ graceMs: 100 });
  });
  return { client, target: `127.0.0.1:${server.listeners[0]!.port}` };
}

t.test('a bidi stream to an unknown method is answered UNIMPLEMENTED without waiting for the request to end', async (t) => {
  const { client, target } = await grpcServer(t);
  const stream = client.stream(target, '/nowhere.Service/Chat', { timeoutMs: DEADLINE_MS });
  await stream.send(Buffer.from('hello')).catch(() => undefined); // the answer may cross the send
  // No end(): the caller waits for a reply first.
  const error = await (async () => {
    for await (const _ of stream) return new Error('a message arrived');
    return new Error('the stream ended OK');
  })().catch((e: unknown) => e);
  t.type(error, RpcError);
  t.equal((error as RpcError).code, Code.UNIMPLEMENTED, `UNIMPLEMENTED, not ${String(error)}`);
  t.match((error as RpcError).message, /nowhere\.Service/, 'naming what is not served');
});

t.test('a reflection client asking a server without reflection gets UNIMPLEMENTED, not its deadline', async (t) => {
  const { client, target } = await grpcServer(t);
  const error = await new ReflectionClient(client, target, { timeoutMs: DEADLINE_MS }).listServices().catch((e: unknown) => e);
  t.type(error, RpcError);
  t.equal((error as RpcError).code, Code.UNIMPLEMENTED, `UNIMPLEMENTED, not ${String(error)}`);
});

t.test('a unary call to an unknown method still gets the kernel\'s UNIMPLEMENTED', async (t) => {
  const { client, target } = await grpcServer(t);
  const error = await client.unary(target, '/trellis.test.EchoService/Nope', Buffer.alloc(0), { timeoutMs: DEADLINE_MS }).catch((e: unknown) => e);
  t.type(error, RpcError);
  t.equal((error as RpcError).code, Code.UNIMPLEMENTED);
  t.match((error as RpcError).message, /trellis\.test\.EchoService\/Nope does not exist/);
});
