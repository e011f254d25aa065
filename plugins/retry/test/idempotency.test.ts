import t from 'tap';
import { Code, MemoryRegistry, RpcClient, RpcError, RpcMethod, RpcReference, RpcServer, StaticRegistry, notExecuted, provideReferences, referenceToken } from '@trellis/core';
import { loadEchoService } from '@trellis/testkit';
import { retry, retryStopReason } from '../src/index.js';
import { attemptLog, echoClient, rateLimited, settle, startServer, type EchoStub } from './fixtures/echo.js';

t.test('a non-idempotent call refused before it ran (rate-limited) is retried on another server', async (t) => {
  const limited = await startServer(t, 'limited', () => rateLimited());
  const open = await startServer(t, 'open');
  const log = attemptLog();
  const { stub } = echoClient(t, [limited.address, open.address], { plugins: [retry({ onAttempt: log.onAttempt })] });
  const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => stub.mutate({ message: `m${i}` })));
  t.same(replies.map((r) => r.servedBy), Array(20).fill('open'), 'every Mutate succeeded, on the open server');
  t.equal(limited.ran.Mutate, 0, 'the limited server never ran one');
  t.equal(open.ran.Mutate, 20, 'each ran exactly once');
  const refused = log.records.filter((r) => r.outcome === 'failed');
  t.equal(refused.length, 10, 'round robin sent half of the first attempts to the limited server');
  for (const r of refused) {
    t.match(r, { attempt: 1, decision: 'retry', endpoint: { id: limited.address }, error: { code: Code.RESOURCE_EXHAUSTED, mayHaveRun: false } });
  }
  t.equal(replies.filter((r) => r.attempt === 2).length, 10, 'the server saw those as attempt 2');
});

t.test('without the plugin the same refusals reach the caller (the test can fail)', async (t) => {
  const limited = await startServer(t, 'limited', () => rateLimited());
  const open = await startServer(t, 'open');
  const { stub } = echoClient(t, [limited.address, open.address]);
  const results = await Promise.all(Array.from({ length: 10 }, () => settle(stub.mutate({}))));
  t.equal(results.filter((r) => !r.ok).length, 5);
});

t.test('a request the server refused as "did not run" (UNAVAILABLE) is retried by the plugin when the kernel does not', async (t) => {
  const draining = await startServer(t, 'draining', () => notExecuted(Code.UNAVAILABLE, 'shutting down (test)'));
  const open = await startServer(t, 'open');
  const log = attemptLog();
  const { stub } = echoClient(t, [draining.address, open.address], { transparentRetries: 0, plugins: [retry({ onAttempt: log.onAttempt })] });
  const replies = await Promise.all(Array.from({ length: 6 }, () => stub.mutate({})));
  t.same(replies.map((r) => r.servedBy), Array(6).fill('open'));
  t.equal(log.records.filter((r) => r.decision === 'retry').length, 3);
});

t.test('a non-idempotent call that may have run is not retried, and the error says why', async (t) => {
  const a = await startServer(t, 'a');
  const b = await startServer(t, 'b');
  const log = attemptLog();
  const { stub } = echoClient(t, [a.address, b.address], { plugins: [retry({ onAttempt: log.onAttempt })] });
  const result = await settle(stub.mutate({ failCode: Code.UNAVAILABLE, failMessage: 'handler failed after running' }));
  t.notOk(result.ok);
  const error = (result as { error: Error & { code: number; mayHaveRun: boolean; cause: unknown } }).error;
  t.equal(error.code, Code.UNAVAILABLE, 'the original code');
  t.equal(error.mayHaveRun, true);
  t.match(error.message, /^handler failed after running \(not retried: trellis\.test\.EchoService\/Mutate is not idempotent and the request may have run on 127\.0\.0\.1:\d+; if running it twice is safe, declare it idempotent/);
  t.match(error.cause, { message: 'handler failed after running' }, 'the original error is the cause');
  t.equal(retryStopReason(error), 'not-idempotent');
  t.equal(a.ran.Mutate + b.ran.Mutate, 1, 'it ran once');
  t.match(log.records, [{ attempt: 1, outcome: 'failed', decision: 'not-idempotent' }]);
});

t.test('an idempotent call that may have run is retried on the other server, which is not picked twice', async (t) => {
  const a = await startServer(t, 'a');
  const b = await startServer(t, 'b');
  const log = attemptLog();
  const { stub } = echoClient(t, [a.address, b.address], { plugins: [retry({ maxAttempts: 5, onAttempt: log.onAttempt })] });
  const result = await settle(stub.echo({ failCode: Code.UNAVAILABLE, failMessage: 'boom' }));
  t.equal(a.ran.Echo, 1);
  t.equal(b.ran.Echo, 1);
  const error = (result as { error: Error }).error;
  t.equal(retryStopReason(error), 'no-endpoint-left');
  t.match(error.message, /^boom \(not retried: every endpoint able to serve trellis\.test\.EchoService\/Echo already failed this call \(127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+\)\)$/);
  t.equal(log.records.length, 2);
  t.not(log.records[0]!.endpoint!.id, log.records[1]!.endpoint!.id);
  t.same([...log.records[1]!.excluded], [log.records[0]!.endpoint!.id], 'attempt 2 excluded the endpoint attempt 1 failed on');
});

t.test('errors outside the whitelist are returned untouched', async (t) => {
  const a = await startServer(t, 'a');
  const b = await startServer(t, 'b');
  const { stub } = echoClient(t, [a.address, b.address], { plugins: [retry()] });
  const result = await settle(stub.echo({ failCode: Code.INVALID_ARGUMENT, failMessage: 'bad input' }));
  const error = (result as { error: Error & { code: number } }).error;
  t.equal(error.code, Code.INVALID_ARGUMENT);
  t.equal(error.message, 'bad input');
  t.equal(retryStopReason(error), undefined);
  t.equal(a.ran.Echo + b.ran.Echo, 1);
});

t.test('retryOn and retryIf widen or narrow what is retried', async (t) => {
  const a = await startServer(t, 'a');
  const b = await startServer(t, 'b');
  const widened = echoClient(t, [a.address, b.address], { plugins: [retry({ retryOn: [Code.UNAVAILABLE, Code.ABORTED] })] }).stub;
  await settle(widened.echo({ failCode: Code.ABORTED }));
  t.equal(a.ran.Echo + b.ran.Echo, 2, 'ABORTED retried once the whitelist has it');
  const vetoed = echoClient(t, [a.address, b.address], {
    plugins: [retry({ retryIf: (error) => (error.message.includes('permanent') ? false : undefined) })],
  }).stub;
  await settle(vetoed.echo({ failCode: Code.UNAVAILABLE, failMessage: 'permanent outage' }));
  t.equal(a.ran.Echo + b.ran.Echo, 3, 'retryIf said no');
  const added = echoClient(t, [a.address, b.address], { plugins: [retry({ retryIf: (error) => error.code === Code.INTERNAL || undefined })] }).stub;
  await settle(added.echo({ failCode: Code.INTERNAL }));
  t.equal(a.ran.Echo + b.ran.Echo, 5, 'retryIf said yes');
});

t.test('idempotency comes from the .proto, the client config, the call, this plugin’s config or @RpcReference', async (t) => {
  const a = await startServer(t, 'a');
  const b = await startServer(t, 'b');
  const ran = () => a.ran.Mutate + b.ran.Mutate;
  const failing = { failCode: Code.UNAVAILABLE };
  const fromClient = echoClient(t, [a.address, b.address], { methods: { Mutate: { idempotent: true } }, plugins: [retry()] }).stub;
  await settle(fromClient.mutate(failing));
  t.equal(ran(), 2, 'client methods option');
  const plain = echoClient(t, [a.address, b.address], { plugins: [retry()] }).stub;
  await settle(plain.mutate(failing, { idempotent: true }));
  t.equal(ran(), 4, 'per-call option');
  await settle(plain.mutate(failing));
  t.equal(ran(), 5, 'and without it, no retry');
  const fromPlugin = echoClient(t, [a.address, b.address], { plugins: [retry({ methods: { mutate: { idempotent: true } } })] }).stub;
  await settle(fromPlugin.mutate(failing));
  t.equal(ran(), 7, 'retry({ methods })');

  // Decorators: the reference's methods option is @RpcMethod's shape, and the plugin comes with it.
  // Every option is part of the reference's token, so the lookup names the same options.
  const referenceOptions = { methods: { Mutate: { idempotent: true } }, plugins: [retry()] };
  class Frontend {
    constructor(
      @RpcReference('trellis.test.EchoService', referenceOptions) readonly echo: EchoStub,
    ) {}
  }
  void Frontend;
  const holder = new RpcServer();
  const container = holder.container.createChildContainer();
  const references = provideReferences(container, { registry: new StaticRegistry([a.address, b.address]), services: [loadEchoService()] });
  t.teardown(() => references.close());
  const decorated = container.resolve<EchoStub>(referenceToken('trellis.test.EchoService', referenceOptions));
  await settle(decorated.mutate(failing));
  t.equal(ran(), 9, '@RpcReference({ methods, plugins })');
});

t.test('a provider that declares a method idempotent (@RpcMethod) lets consumers retry it, through the registry', async (t) => {
  const registry = new MemoryRegistry();
  let runs = 0;
  class Declaring {
    async echo() {
      return { message: '', id: '', values: [], servedBy: 'declaring' };
    }
    @RpcMethod({ idempotent: true })
    async mutate() {
      runs++;
      throw new RpcError(Code.UNAVAILABLE, 'a dependency is down', { mayHaveRun: true });
    }
  }
  class Plain {
    async echo() {
      return { message: '', id: '', values: [], servedBy: 'plain' };
    }
    async mutate() {
      runs++;
      throw new RpcError(Code.UNAVAILABLE, 'a dependency is down', { mayHaveRun: true });
    }
  }
  const serve = async (implementation: object, service: RpcServer = new RpcServer({ host: '127.0.0.1', registry })) => {
    service.addService(loadEchoService(), implementation);
    await service.start();
    t.teardown(() => service.close());
    return service;
  };
  await serve(new Declaring());
  await serve(new Declaring());
  const client = new RpcClient({ service: loadEchoService(), registry, plugins: [retry()] });
  t.teardown(() => client.close());
  await settle(client.invoke('Mutate', {}));
  t.equal(runs, 2, 'the first provider declared Mutate idempotent: the call was retried on the other');

  const plainRegistry = new MemoryRegistry();
  await serve(new Plain(), new RpcServer({ host: '127.0.0.1', registry: plainRegistry }));
  await serve(new Plain(), new RpcServer({ host: '127.0.0.1', registry: plainRegistry }));
  const plain = new RpcClient({ service: loadEchoService(), registry: plainRegistry, plugins: [retry()] });
  t.teardown(() => plain.close());
  const error = await plain.invoke('Mutate', {}).catch((e: unknown) => e);
  t.equal(runs, 3, 'without the declaration it ran once and was not retried');
  t.match((error as Error).message, /@RpcMethod\(\{ idempotent: true \}\) on the provider/, 'and the error says where to declare it');
});
