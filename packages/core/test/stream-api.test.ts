import t, { type Test } from 'tap';
import {
  Code, RpcClient, RpcServer, TcpClientTransport, type CallEnd, type RpcError, type ServiceDefinition,
} from '../src/index.js';
import type { ClientTransport } from '../src/spi.js';
import { jsonCodec, waitFor } from './fixtures/json-service.js';

/**
 * The stream API's edges that need no stream transport (issue #18): method kinds, the refusals of
 * the wrong call shape, and a transport without `openStream`. The streams themselves are tested end
 * to end over real transports in plugins/transport-grpc/test/kernel-streams.test.ts.
 */
const method = (name: string, kind?: 'server-streaming' | 'client-streaming' | 'bidi-streaming') => ({
  name, localName: name[0]!.toLowerCase() + name.slice(1), requestCodec: jsonCodec, responseCodec: jsonCodec, idempotent: false, options: {},
  ...(kind === undefined ? {} : { kind }),
});

const MIXED: ServiceDefinition = {
  name: 'test.Mixed',
  methods: { Echo: method('Echo'), Watch: method('Watch', 'server-streaming'), Record: method('Record', 'client-streaming') },
};

/** A server of MIXED, closed when the test ends; `watch` is its Watch handler (by default one item, 1). */
async function start(t: Test, watch: () => AsyncIterable<unknown> = async function* () {
  yield 1;
}): Promise<{ server: RpcServer; addresses: string[] }> {
  const server = new RpcServer({ host: '127.0.0.1' }).addService(MIXED, { echo: async (request: unknown) => request, watch, record: async () => 0 });
  await server.start();
  t.teardown(() => server.close({ graceMs: 100 }));
  return { server, addresses: [`127.0.0.1:${server.port}`] };
}

/** The native TCP transport, seen without `openStream` whether or not it has one by now. */
function unaryOnly(): ClientTransport & { inner: TcpClientTransport } {
  const inner = new TcpClientTransport();
  return {
    inner,
    call: (endpoint, request) => inner.call(endpoint, request),
    send: (endpoint, request, sink) => inner.send(endpoint, request, sink),
    ping: (endpoint, timeoutMs) => inner.ping(endpoint, timeoutMs),
    state: (endpoint) => inner.state(endpoint),
    onStateChange: (listener) => inner.onStateChange(listener),
    retain: (endpoints) => inner.retain(endpoints),
    close: () => inner.close(),
  };
}

t.test('a transport without openStream: stream calls fail UNIMPLEMENTED, never ran; callEnd says never set up', async (t) => {
  const { addresses } = await start(t);
  const ends: { code: Code; setUp: boolean | undefined }[] = [];
  const client = new RpcClient({
    service: MIXED,
    addresses,
    transport: unaryOnly(),
    plugins: [{ meta: { name: 'ends', kernel: '*' }, setupClient: (ctx) => ctx.observe({ callEnd: (call: CallEnd) => void ends.push({ code: call.code, setUp: call.stream?.setUp }) }) }],
  });
  t.teardown(() => client.close());
  const stub = client.stub<{ echo(r: unknown): Promise<unknown>; watch(r: unknown): AsyncIterable<unknown>; record(r: Iterable<unknown>): Promise<unknown> }>();
  t.same(await stub.echo({ a: 1 }), { a: 1 }, 'unary calls work');
  const recorded = await stub.record([1, 2]).catch((e: RpcError) => e);
  t.match(recorded, { code: Code.UNIMPLEMENTED, mayHaveRun: false, message: /test\.Mixed\/Record is a stream method, and the client's transport .* carries unary calls only/ });
  const watched = await (async () => {
    for await (const item of stub.watch({})) void item;
  })().catch((e: RpcError) => e);
  t.match(watched, { code: Code.UNIMPLEMENTED, mayHaveRun: false });
  t.same(ends, [{ code: Code.OK, setUp: undefined }, { code: Code.UNIMPLEMENTED, setUp: false }, { code: Code.UNIMPLEMENTED, setUp: false }], 'unary callEnd has no stream part; a stream that never set up says so');
});

t.test('the wrong call shape is refused with a clear error, never ran', async (t) => {
  const { addresses } = await start(t);
  const client = new RpcClient({ service: MIXED, addresses, transport: unaryOnly() });
  t.teardown(() => client.close());
  const viaInvoke = await client.invoke('Watch', {}).catch((e: RpcError) => e);
  t.match(viaInvoke, { code: Code.INVALID_ARGUMENT, mayHaveRun: false, message: /is server-streaming: call it with stream\(\)/ });
  const unaryAsStream = await (async () => {
    for await (const item of client.stream('Echo', {})) void item;
  })().catch((e: RpcError) => e);
  t.match(unaryAsStream, { code: Code.INVALID_ARGUMENT, mayHaveRun: false, message: /is unary: call it with invoke\(\)/ });
  const unknown = client.stream('Nope', {});
  await t.rejects(unknown.headers, { code: Code.UNIMPLEMENTED }, 'an unknown method fails the stream\'s headers too');
  const badOptions = await (async () => {
    for await (const item of client.stream('Watch', {}, { timeoutMs: -1 })) void item;
  })().catch((e: RpcError) => e);
  t.match(badOptions, { code: Code.INVALID_ARGUMENT, message: /timeoutMs/ }, 'call options are checked as for unary calls');
  const withResult = await client.invokeWithResult('Record', []).catch((e: RpcError) => e);
  t.match(withResult, { code: Code.INVALID_ARGUMENT, mayHaveRun: false, message: /is client-streaming: call it with stream\(\)/ });
  const stream = client.stream('Watch', {});
  stream[Symbol.asyncIterator]();
  t.throws(() => stream[Symbol.asyncIterator](), { code: Code.FAILED_PRECONDITION }, 'a stream is iterated once');
  stream.cancel();
});

t.test('a unary request for a stream method (a client built from another .proto) is refused, never ran', async (t) => {
  const { addresses } = await start(t);
  const unaryView: ServiceDefinition = { name: 'test.Mixed', methods: { Watch: method('Watch') } };
  const client = new RpcClient({ service: unaryView, addresses });
  t.teardown(() => client.close());
  const error = await client.invoke('Watch', {}).catch((e: RpcError) => e);
  t.match(error, { code: Code.UNIMPLEMENTED, mayHaveRun: false, message: /test\.Mixed\/Watch is server-streaming; it cannot be called as a unary call/ });
});

t.test('the server read-out counts open streams per service, and releases each once', async (t) => {
  let release: (() => void) | undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  const { server, addresses } = await start(t, async function* () {
    yield 1;
    await held;
    yield 2;
  });
  const client = new RpcClient({ service: MIXED, addresses });
  t.teardown(() => client.close());
  const open = () => (server.inspect().kernel as { services: { openStreams: number }[] }).services[0]!.openStreams;
  t.equal(open(), 0);
  const first = client.stream('Watch', {})[Symbol.asyncIterator]();
  const second = client.stream('Watch', {})[Symbol.asyncIterator]();
  t.same(await first.next(), { done: false, value: 1 });
  t.same(await second.next(), { done: false, value: 1 });
  t.equal(open(), 2, 'two streams held open by their handlers');
  await second.return!();
  // Polled (the release has no event outside the server); the 20 s only bounds a broken test's hang.
  const until = async (want: number) => {
    await waitFor(() => open() === want, 20_000).catch(() => undefined);
    return open();
  };
  t.equal(await until(1), 1, 'the cancelled stream is released');
  release!();
  t.same(await first.next(), { done: false, value: 2 });
  t.same(await first.next(), { done: true, value: undefined });
  t.equal(await until(0), 0, 'the finished stream is released, and nothing counted twice');
});

t.test('a stream the server refuses as UNIMPLEMENTED (unknown method or service) never ran: mayHaveRun false, so retry may re-send it', async (t) => {
  const { addresses } = await start(t);
  // The client's view of the service has a stream method the server does not serve.
  const newer: ServiceDefinition = { name: 'test.Mixed', methods: { ...MIXED.methods, Missing: method('Missing', 'server-streaming') } };
  const client = new RpcClient({ service: newer, addresses });
  t.teardown(() => client.close());
  const missing = await (async () => {
    for await (const item of client.stream('Missing', {})) void item;
  })().catch((e: RpcError) => e);
  t.match(missing, { code: Code.UNIMPLEMENTED, mayHaveRun: false, message: /method test\.Mixed\/Missing does not exist/ });
  const elsewhere: ServiceDefinition = { name: 'test.Elsewhere', methods: { Watch: method('Watch', 'server-streaming') } };
  const other = new RpcClient({ service: elsewhere, addresses });
  t.teardown(() => other.close());
  const unserved = await (async () => {
    for await (const item of other.stream('Watch', {})) void item;
  })().catch((e: RpcError) => e);
  t.match(unserved, { code: Code.UNIMPLEMENTED, mayHaveRun: false, message: /service .*test\.Elsewhere is not served here/ });
  // The same server still serves the methods it has.
  const ran: ServiceDefinition = { name: 'test.Mixed', methods: { Watch: method('Watch', 'server-streaming') } };
  const third = new RpcClient({ service: ran, addresses, timeoutMs: 10_000 });
  t.teardown(() => third.close());
  const items: unknown[] = [];
  for await (const item of third.stream('Watch', {})) items.push(item);
  t.same(items, [1], 'the served method streams as before');
});
