import 'reflect-metadata';
import t from 'tap';
import { container, injectable } from 'tsyringe';
import {
  Code, MAX_TIMEOUT_MS, MemoryRegistry, provideReferences, RpcClient, RpcError, RpcReference, RpcServer, type TrellisError,
} from '../src/index.js';
import { DeadlineTimer } from '../src/spi.js';
import { ECHO, echoHandlers, startEchoServer } from './fixtures/json-service.js';

// Input the kernel used to accept and then mishandle (issue #16, items 5, 6 and 8): each is now
// refused where it is given, with a coded error that says what to pass, and loses nothing else.

const address = '127.0.0.1:1';
const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (e: unknown) => e as RpcError);

t.test('timeoutMs: Infinity, 1e12, a string, NaN and unknown keys are refused at construction', async (t) => {
  const make = (options: object) => () => new RpcClient({ service: ECHO, addresses: [address], ...options });
  t.throws(make({ timeoutMs: Infinity }), { code: 'ERR_INVALID_OPTION', message: /"timeoutMs" is Infinity; expected a number of ms > 0 and ≤ 2147483647/ });
  t.throws(make({ timeoutMs: 1e12 }), { code: 'ERR_INVALID_OPTION', message: /"timeoutMs" is 1000000000000/ });
  t.throws(make({ timeoutMs: '100' }), { code: 'ERR_INVALID_OPTION', message: /"timeoutMs" is "100"/ });
  t.throws(make({ timeoutMs: NaN }), { code: 'ERR_INVALID_OPTION', message: /"timeoutMs" is NaN;/ }, 'NaN is shown as NaN, not null');
  t.throws(make({ timeoutMz: 100 }), { code: 'ERR_INVALID_OPTION', message: /"timeoutMz" is 100; expected no such RpcClient option \(did you mean "timeoutMs"\?\)/ });
  t.throws(make({ methods: { Echo: { timeoutMs: Infinity } } }), { code: 'ERR_INVALID_OPTION', message: /"methods\.Echo\.timeoutMs" is Infinity/ });
  t.throws(make({ methods: { Echo: { idempotnt: true } } }), { code: 'ERR_INVALID_OPTION', message: /"methods\.Echo\.idempotnt".*did you mean "idempotent"/ });
  t.throws(make({ group: 7 }), { code: 'ERR_INVALID_OPTION', message: /"group" is 7/ });
  t.doesNotThrow(make({ timeoutMs: MAX_TIMEOUT_MS }), 'the largest timeout a timer can hold is fine');
  t.throws(() => new RpcServer({ prot: 50051 } as never), { code: 'ERR_INVALID_OPTION', message: /"prot".*did you mean "port"/ });
  t.throws(() => new RpcServer({ redactErrors: 'yes' } as never), { code: 'ERR_INVALID_OPTION', message: /"redactErrors"/ });
});

t.test('a bad per-call timeout is refused before anything is sent, and the connection keeps serving', async (t) => {
  const { server, address, stats } = await startEchoServer('a');
  const client = new RpcClient({ service: ECHO, addresses: [address] });
  t.teardown(async () => { await client.close(); await server.close(); });
  // A slow call already on the connection: a garbage header used to make the server drop the
  // connection, failing this unrelated call with it.
  const inFlight = client.invoke('Echo', { message: 'still here', delayMs: 150 });
  await client.invoke('Echo', {}); // the slow call is on the wire before the bad ones
  for (const timeoutMs of [Infinity, 1e12, '100', NaN, -5, 0]) {
    const error = await failure(client.invoke('Echo', {}, { timeoutMs } as never));
    t.equal(error?.code, Code.INVALID_ARGUMENT, `timeoutMs ${String(timeoutMs)}: INVALID_ARGUMENT`);
    t.equal(error?.mayHaveRun, false, 'never ran');
    t.match(error?.message, /call option "timeoutMs" is .*; expected a number of ms > 0/);
  }
  t.match(await failure(client.invoke('Echo', {}, { timeoutMz: 5 } as never)), { code: Code.INVALID_ARGUMENT, message: /"timeoutMz" is unknown/ });
  t.match(await failure(client.invoke('Echo', {}, { idempotent: 'yes' } as never)), { code: Code.INVALID_ARGUMENT, mayHaveRun: false });
  t.match(await inFlight, { message: 'still here' }, 'the call in flight was not failed by the bad ones');
  t.equal(stats.calls, 2, 'the refused calls never reached the server');
});

t.test('metadata: keys are lower-cased, values must be strings, the kernel\'s keys are reserved', async (t) => {
  const { server, address, stats } = await startEchoServer('a');
  const client = new RpcClient({ service: ECHO, addresses: [address], caller: 'frontend' });
  t.teardown(async () => { await client.close(); await server.close(); });
  const reply = (await client.invoke('Echo', {}, { metadata: { 'X-Tenant': 'acme' } })) as { metadata: Record<string, string> };
  t.equal(reply.metadata['x-tenant'], 'acme', 'X-Tenant arrives as x-tenant');
  t.equal(reply.metadata['X-Tenant'], undefined);
  const fromMap = (await client.invoke('Echo', {}, { metadata: new Map([['X-Request-Id', 'r1']]) })) as { metadata: Record<string, string> };
  t.equal(fromMap.metadata['x-request-id'], 'r1', 'a Map is normalised too');
  const before = stats.calls;
  const cases: [object, RegExp][] = [
    [{ 'x-count': 3 }, /metadata "x-count" is 3; metadata values are strings/],
    [{ 'trellis-caller': 'admin' }, /metadata key "trellis-caller" is reserved/],
    [{ 'Trellis-Attempt': '5' }, /metadata key "trellis-attempt" is reserved/],
    [{ 'bad key': 'x' }, /metadata key "bad key" has characters outside/],
    [new Map([['X-A', '1'], ['x-a', '2']]), /metadata key "x-a" is given twice/],
  ];
  for (const [metadata, message] of cases) {
    const error = await failure(client.invoke('Echo', {}, { metadata } as never));
    t.match(error, { code: Code.INVALID_ARGUMENT, mayHaveRun: false, message }, message.source);
  }
  t.equal(stats.calls, before, 'no refused call reached the server');
  const caller = (await client.invoke('Echo', {})) as { metadata: Record<string, string> };
  t.equal(caller.metadata['trellis-caller'], 'frontend', 'the kernel still writes its own keys');
});

t.test('after close(): calls fail with ERR_CLIENT_CLOSED, the server says it cannot be restarted', async (t) => {
  const { server, address } = await startEchoServer('a');
  const client = new RpcClient({ service: ECHO, addresses: [address] });
  await client.invoke('Echo', {});
  await client.close();
  await t.rejects(client.invoke('Echo', {}), { code: 'ERR_CLIENT_CLOSED', message: /is closed; calls after close\(\) are refused/ });
  await t.rejects(client.start(), { code: 'ERR_CLIENT_CLOSED' });
  await server.close();
  await t.rejects(server.start(), { code: 'ERR_SERVER_STATE', message: /the server is closed; an RpcServer cannot be used again after close\(\); create a new one/ });
  t.throws(() => server.addService(ECHO, echoHandlers('b')), { message: /cannot be used again after close/ });
  const started = new RpcServer({ host: '127.0.0.1' }).addService(ECHO, echoHandlers('c'));
  await started.start();
  await t.rejects(started.start(), { code: 'ERR_SERVER_STATE', message: /start\(\) was already called/ });
  await started.close();
});

t.test('addService with a class instead of an instance says so', async (t) => {
  class Greeter {
    async echo() { return {}; }
    async mutate() { return {}; }
  }
  const server = new RpcServer();
  t.throws(() => server.addService(ECHO, Greeter), {
    code: 'ERR_SERVICE_INVALID',
    message: 'addService(test.Echo, Greeter) was given a class; pass an instance: new Greeter() or container.resolve(Greeter)',
  });
  t.throws(() => server.addService(ECHO, null as never), { code: 'ERR_SERVICE_INVALID' });
  t.doesNotThrow(() => server.addService(ECHO, new Greeter()));
});

t.test('an @RpcReference without provideReferences says what to call, not tsyringe\'s token dump', async (t) => {
  @injectable()
  class Orphan {
    constructor(@RpcReference('test.Echo', { group: 'orphan' }) readonly echo: unknown) {}
  }
  const scope = container.createChildContainer();
  let thrown: Error | undefined;
  try {
    scope.resolve(Orphan);
  } catch (error) {
    thrown = error as Error;
  }
  t.match(thrown?.message, /ERR_REFERENCE_UNRESOLVED: @RpcReference\('test\.Echo'\) has no client in this container; call provideReferences\(container, \{ registry, services \}\)/);
  t.notMatch(thrown?.message, /unregistered dependency token/);
  // And once provided, the same class resolves.
  const registry = new MemoryRegistry();
  const references = provideReferences(scope, { registry, services: [ECHO] });
  t.teardown(() => references.close());
  t.ok(scope.resolve(Orphan).echo, 'resolves after provideReferences');
  t.ok(container.createChildContainer() !== scope);
  t.equal((thrown as TrellisError | undefined)?.name, 'Error', 'tsyringe wraps it; the code travels in the message');
});

t.test('a provider that sends a timeout past the timer range does not spin the server', async (t) => {
  // The kernel's own client refuses such timeouts; the server's deadline timer caps its delay so a
  // peer that sends one anyway (any uint32) costs one timer, not a TimeoutOverflowWarning per tick.
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(warning.name);
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));
  const timer = new DeadlineTimer(() => performance.now());
  let fired = 0;
  const entry = { bucket: 0, onDeadline: () => fired++ };
  timer.add(entry, performance.now() + 4_000_000_000);
  await new Promise((resolve) => setTimeout(resolve, 50));
  timer.remove(entry);
  t.equal(fired, 0, 'a 46-day deadline did not fire');
  t.same(warnings.filter((name) => name === 'TimeoutOverflowWarning'), [], 'no overflow warning');
});
