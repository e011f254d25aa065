import t from 'tap';
import { Code, HandlerError, RpcClient, RpcError, RpcServer, type RpcServerOptions } from '../src/index.js';
import { ECHO } from './fixtures/json-service.js';

const SECRET = 'database exploded: secret connection string postgres://user:pw@db';

async function start(t: { teardown(fn: () => unknown): void }, options: RpcServerOptions) {
  const server = new RpcServer({ host: '127.0.0.1', ...options });
  server.addService(ECHO, {
    echo: async () => { throw new Error(SECRET); },
    mutate: async () => { throw new RpcError(Code.NOT_FOUND, 'no order 42 for acme'); },
  });
  await server.start();
  const client = new RpcClient({ service: ECHO, addresses: [`127.0.0.1:${server.port}`] });
  t.teardown(async () => { await client.close(); await server.close(); });
  return client;
}

const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (e: unknown) => e as RpcError);

t.test('redactErrors: the caller gets a correlation id, onError gets the error under that id', async (t) => {
  const reported: Error[] = [];
  const client = await start(t, { redactErrors: true, onError: (error) => reported.push(error) });
  const error = await failure(client.invoke('Echo', {}));
  t.equal(error?.code, Code.UNKNOWN);
  t.match(error?.message, /^internal error \(id [0-9a-f-]{36}\)$/);
  t.notMatch(error?.message, /postgres|exploded/, 'nothing of the original message reaches the caller');
  const id = error?.metadata?.get('trellis-error-id');
  t.ok(id, 'the id is in the trellis-error-id trailer');
  t.equal(error?.message, `internal error (id ${id})`);
  t.equal(reported.length, 1);
  const reportedError = reported[0] as HandlerError;
  t.type(reportedError, HandlerError);
  t.equal(reportedError.errorId, id, 'the same id on both sides');
  t.equal(reportedError.method, 'test.Echo/Echo');
  t.equal((reportedError.cause as Error).message, SECRET, 'the full error, with its stack, stays on the server');
  t.match(reportedError.message, /test\.Echo\/Echo failed \(error id .*\): Error: database exploded/);

  const answer = await failure(client.invoke('Mutate', {}));
  t.match(answer, { code: Code.NOT_FOUND, message: 'no order 42 for acme' }, 'an RpcError is never redacted');
  t.equal(reported.length, 1, 'and not reported');
});

t.test('redaction is on by default when NODE_ENV is production, and off otherwise', async (t) => {
  const saved = process.env.NODE_ENV;
  t.teardown(() => {
    if (saved === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = saved;
  });
  process.env.NODE_ENV = 'production';
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(warning.message);
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));
  const production = await start(t, {});
  const redacted = await failure(production.invoke('Echo', {}));
  t.match(redacted?.message, /^internal error \(id /);
  await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
  t.equal(warnings.length, 1, 'without onError, a process warning carries the error');
  t.match(warnings[0], new RegExp(`error id ${redacted?.metadata?.get('trellis-error-id')}\\): Error: database exploded[^]*\\n\\s+at `), 'with the stack');

  process.env.NODE_ENV = 'development';
  const development = await start(t, {});
  t.match(await failure(development.invoke('Echo', {})), { code: Code.UNKNOWN, message: SECRET }, 'verbatim outside production');
  const explicit = await start(t, { redactErrors: false });
  process.env.NODE_ENV = 'production';
  t.match(await failure(explicit.invoke('Echo', {})), { message: SECRET }, 'the option wins over NODE_ENV');
});
