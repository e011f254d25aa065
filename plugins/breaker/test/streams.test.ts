import { Code, RpcClient, RpcError, RpcServer, ServerInterceptorOrder, definePlugin, type ResponseStream } from '@trellis/core';
import { createTickHandlers, FaultProxy, loadTickService, TickProbe, waitFor, type TickRequest } from '@trellis/testkit';
import t from 'tap';
import { breaker, limiter, type LimiterPlugin } from '../src/index.js';

/**
 * Streams (issue #18) over the native transport on loopback: the limiters see one
 * stream once, at its open, and hold a concurrency permit while it is open; the breaker judges a
 * stream by its set-up.
 */
const TICKS = 'trellis.test.TickService';

async function limitedServer(t: { teardown(fn: () => unknown): void }, limits: LimiterPlugin, probe = new TickProbe()) {
  const server = new RpcServer({ host: '127.0.0.1', plugins: [limits] })
    .addService(loadTickService(), createTickHandlers('a', probe));
  await server.start();
  t.teardown(() => server.close({ graceMs: 1000 }));
  return server;
}

function clientOf(t: { teardown(fn: () => unknown): void }, port: number, plugins = [] as ReturnType<typeof breaker>[]) {
  const client = new RpcClient({ service: loadTickService(), addresses: [`127.0.0.1:${port}`], plugins, timeoutMs: 10_000 });
  t.teardown(() => client.close());
  return client;
}

/** Reads `n` ticks of a stream (so it is set up and running), leaving the iterator open. */
async function take(stream: ResponseStream, n: number) {
  const iterator = stream[Symbol.asyncIterator]();
  for (let i = 0; i < n; i++) await iterator.next();
  return iterator;
}

/** Reads the rest of a stream; its error, or undefined when it ended OK. */
async function drain(iterator: AsyncIterator<unknown>): Promise<RpcError | undefined> {
  try {
    while ((await iterator.next()).done !== true);
    return undefined;
  } catch (error) {
    return error as RpcError;
  }
}

t.test('the concurrency limiter holds one permit per open stream and gets it back however the stream ends', async (t) => {
  const limits = limiter({ services: { [TICKS]: { maxConcurrency: 1 } } });
  const probe = new TickProbe();
  const server = await limitedServer(t, limits, probe);
  const client = clientOf(t, server.port);
  const inflight = () => limits.snapshot()[0]?.inflight ?? 0;
  const endless: TickRequest = { count: 0, intervalMs: 5 };

  const ways: [string, () => Promise<RpcError | undefined>][] = [
    ['OK', async () => drain(await take(client.stream('Ticks', { count: 3 }), 1))],
    ['the handler’s error', async () => drain(await take(client.stream('Ticks', { count: 2, failCode: Code.INTERNAL }), 1))],
    ['the caller’s cancel', async () => {
      const stream = client.stream('Ticks', endless);
      await take(stream, 1);
      stream.cancel('done');
      return Code.CANCELLED as never;
    }],
    // 2 s: the first tick must arrive before the deadline (take() reads it), and a loaded machine can
    // stall this process for a few hundred ms between the open and that tick (with 400 ms such a stall
    // failed the case by chance). The stream still runs into its deadline: endless ticks every 5 ms.
    ['the deadline', async () => drain(await take(client.stream('Ticks', endless, { timeoutMs: 2000 }), 1))],
    ['a dropped connection', async () => {
      const proxy = await new FaultProxy(server.port).start();
      const viaProxy = clientOf(t, proxy.port);
      const iterator = await take(viaProxy.stream('Ticks', endless), 1);
      await proxy.close();
      return drain(iterator);
    }],
  ];
  // A dropped connection reaches the caller as the gRPC adapter reports it: the socket's streams
  // are reset (HTTP/2 CANCEL), so CANCELLED, where the kernel's own transport says UNAVAILABLE.
  const expected = [undefined, Code.INTERNAL, Code.CANCELLED, Code.DEADLINE_EXCEEDED, [Code.UNAVAILABLE, Code.CANCELLED]] as const;
  for (const [i, [way, run]] of ways.entries()) {
    // While a stream is open, a second open is refused at set-up.
    const holder = client.stream('Ticks', endless);
    const holding = await take(holder, 1);
    t.equal(inflight(), 1, `${way}: the open stream holds the permit`);
    const refused = await drain(client.stream('Ticks', { count: 1 })[Symbol.asyncIterator]());
    t.equal(refused?.code, Code.RESOURCE_EXHAUSTED, `${way}: a second stream is refused while one is open`);
    holder.cancel();
    await drain(holding);
    await waitFor(() => inflight() === 0, { timeoutMs: 10_000, what: 'the cancelled holder released its permit' });

    const ended = await run();
    const code = typeof ended === 'number' ? ended : ended?.code;
    const want = expected[i];
    if (Array.isArray(want)) t.ok(want.includes(code!), `${way}: the stream ended with ${code === undefined ? 'OK' : Code[code]}`);
    else t.equal(code, want, `${way}: the stream ended with ${want === undefined ? 'OK' : Code[want as Code]}`);
    await waitFor(() => inflight() === 0, { timeoutMs: 10_000, what: `the permit is back after ${way}` });
  }
  await waitFor(() => probe.closed === probe.opened, { timeoutMs: 10_000, what: 'every handler ended' });
  t.equal(limits.snapshot()[0]!.rejected, ways.length, 'only the second opens were refused');
});

t.test('the rate limiter takes one token per stream start, none per message', async (t) => {
  // Burst 2 at 0.1/s: two streams start, the third is refused, however many messages the two carry.
  const limits = limiter({ services: { [TICKS]: { qps: 0.1, burst: 2 } } });
  const server = await limitedServer(t, limits);
  const client = clientOf(t, server.port);
  for (let i = 0; i < 2; i++) t.equal(await drain(await take(client.stream('Ticks', { count: 50 }), 0)), undefined, `stream ${i + 1} of 50 messages ran`);
  const refused = await drain(client.stream('Ticks', { count: 1 })[Symbol.asyncIterator]());
  t.equal(refused?.code, Code.RESOURCE_EXHAUSTED, 'the third start is refused');
  t.match(limits.snapshot()[0], { accepted: 2, rejected: 1 });
});

t.test('the breaker counts stream set-up failures, not failures after set-up', async (t) => {
  // The server refuses opens while `refusing`: a set-up failure, like a provider that is down.
  let refusing = false;
  const refuse = definePlugin({
    meta: { name: 'refuse-opens', kernel: '^0.1.0' },
    setupServer(ctx) {
      ctx.addInterceptor((next) => (inv) => (refusing ? Promise.reject(new RpcError(Code.INTERNAL, 'refused at open')) : next(inv)), ServerInterceptorOrder.USER);
    },
  });
  const server = new RpcServer({ host: '127.0.0.1', plugins: [refuse] })
    .addService(loadTickService(), createTickHandlers('a'));
  await server.start();
  t.teardown(() => server.close({ graceMs: 1000 }));
  const circuits = breaker();
  const client = clientOf(t, server.port, [circuits]);
  const endpointState = () => circuits.states().find((s) => s.kind === 'endpoint')?.state;

  // 10 streams that fail after their first message: set up fine, so no failure for the breaker.
  for (let i = 0; i < 10; i++) {
    const error = await drain(client.stream('Ticks', { count: 1, failCode: Code.INTERNAL })[Symbol.asyncIterator]());
    t.equal(error?.code, Code.INTERNAL);
  }
  t.equal(endpointState(), 'closed', 'failures after set-up do not open the circuit');
  t.equal(circuits.states().find((s) => s.kind === 'endpoint')?.failures, 0);

  // 5 refused opens in a row: the endpoint circuit's consecutive-failure rule opens it.
  refusing = true;
  for (let i = 0; i < 5; i++) {
    const error = await drain(client.stream('Ticks', { count: 1 })[Symbol.asyncIterator]());
    t.equal(error?.code, Code.INTERNAL);
  }
  t.equal(endpointState(), 'open', 'set-up failures open it');
  const blocked = await drain(client.stream('Ticks', { count: 1 })[Symbol.asyncIterator]());
  t.equal(blocked?.code, Code.UNAVAILABLE, 'the next stream is not sent');
  t.match(blocked?.message, /circuit open/);
});
