import { Code, RpcClient, RpcError, RpcServer, ServerInterceptorOrder, definePlugin } from '@trellis/core';
import { createTickHandlers, loadTickService, TickProbe, waitFor, type Tick } from '@trellis/testkit';
import t from 'tap';
import { retry } from '../src/index.js';

/**
 * Streams (issue #18) through the retry plugin, over the native transport on
 * loopback: a stream is sent again only while it is not set up (the request messages pulled so far
 * are replayed to the next attempt), never once the first response message arrived.
 */
interface Open { server: string; method: string; attempt: number }

/** A provider whose first `refuse` stream opens are refused with UNAVAILABLE, before the handler. */
async function provider(t: { teardown(fn: () => unknown): void }, name: string, refuse: number, opens: Open[], probe: TickProbe) {
  let refused = 0;
  const refuser = definePlugin({
    meta: { name: 'refuse-first-opens', kernel: '^0.1.0' },
    setupServer(ctx) {
      ctx.addInterceptor((next) => (inv) => {
        opens.push({ server: name, method: inv.method.name, attempt: inv.attempt });
        if (refused < refuse) {
          refused++;
          return Promise.reject(new RpcError(Code.UNAVAILABLE, 'not accepting streams yet'));
        }
        return next(inv);
      }, ServerInterceptorOrder.USER);
    },
  });
  const server = new RpcServer({ host: '127.0.0.1', plugins: [refuser] })
    .addService(loadTickService(), createTickHandlers(name, probe));
  await server.start();
  t.teardown(() => server.close({ graceMs: 1000 }));
  return server;
}

/** Round robin from the first address: the first stream goes to `ports[0]`, the next to `ports[1]`. */
function clientOf(t: { teardown(fn: () => unknown): void }, ports: number[], attemptTimeoutMs?: number) {
  // Over gRPC a refusal arrives as a plain status (mayHaveRun unknown): declaring the methods
  // idempotent lets retry send them again, as it would a unary call.
  const plugin = retry({ backoff: false, ...(attemptTimeoutMs === undefined ? {} : { attemptTimeoutMs }), methods: { Ticks: { idempotent: true }, Collect: { idempotent: true } } });
  const client = new RpcClient({ service: loadTickService(), addresses: ports.map((port) => `127.0.0.1:${port}`), plugins: [plugin], timeoutMs: 10_000 });
  t.teardown(() => client.close());
  return client;
}

async function* ticks(n: number, pulled: number[]): AsyncGenerator<Tick> {
  for (let seq = 1; seq <= n; seq++) {
    pulled.push(seq);
    yield { seq };
  }
}

t.test('a refused open is sent again, and a client stream’s messages all reach the next attempt', async (t) => {
  const opens: Open[] = [];
  const probe = new TickProbe();
  // a refuses every open; b accepts them. Each stream is tried on a first, then on b.
  const a = await provider(t, 'a', Infinity, opens, probe);
  const b = await provider(t, 'b', 0, opens, probe);
  const client = clientOf(t, [a.port, b.port]);
  const pulled: number[] = [];
  t.same(await client.invoke('Collect', ticks(8, pulled)), { count: 8 }, 'every message arrived once, on the stream that was set up');
  t.same(pulled, [1, 2, 3, 4, 5, 6, 7, 8], 'the caller’s iterable was read once: the refused attempts’ messages were replayed');
  t.same(opens, [{ server: 'a', method: 'Collect', attempt: 1 }, { server: 'b', method: 'Collect', attempt: 2 }]);
  t.equal(probe.opened, 1, 'the handler ran once');

  // Two server streams: round robin sends one of them to a first (refused), which then opens on b.
  for (let i = 0; i < 2; i++) {
    let seen = 0;
    for await (const tick of client.stream('Ticks', { count: 4 })) if (tick) seen++;
    t.equal(seen, 4, `server stream ${i + 1} got every tick`);
  }
  const ticksOpens = opens.slice(2);
  t.equal(ticksOpens.length, 3, 'three opens for two streams');
  const onA = ticksOpens.findIndex((o) => o.server === 'a');
  t.same(ticksOpens.slice(onA, onA + 2), [{ server: 'a', method: 'Ticks', attempt: 1 }, { server: 'b', method: 'Ticks', attempt: 2 }], 'the refused one was sent again to b');
});

t.test('a stream that failed after its first message is never sent again', async (t) => {
  const opens: Open[] = [];
  const probe = new TickProbe();
  // Two providers that accept everything: a re-send would have somewhere to go.
  const a = await provider(t, 'a', 0, opens, probe);
  const b = await provider(t, 'b', 0, opens, probe);
  const client = clientOf(t, [a.port, b.port]);
  const received: number[] = [];
  const error = await (async () => {
    for await (const tick of client.stream('Ticks', { count: 1, failCode: Code.UNAVAILABLE })) received.push((tick as Tick).seq);
  })().catch((e: unknown) => e as RpcError);
  t.equal(error?.code, Code.UNAVAILABLE, 'the caller gets the stream’s error');
  t.same(received, [1]);
  await waitFor(() => probe.closed === 1, { timeoutMs: 10_000, what: 'the handler ended' });
  t.same(opens, [{ server: 'a', method: 'Ticks', attempt: 1 }], 'one open: retryable code, idempotent method, and still not re-sent');
});

t.test('attemptTimeoutMs does not cut a stream short: the call’s deadline covers the whole stream', async (t) => {
  const opens: Open[] = [];
  const probe = new TickProbe();
  const a = await provider(t, 'a', 0, opens, probe);
  const client = clientOf(t, [a.port], 100);
  let seen = 0;
  // 6 ticks 60 ms apart: the stream lives several attempt timeouts.
  for await (const tick of client.stream('Ticks', { count: 6, intervalMs: 60 })) if (tick) seen++;
  t.equal(seen, 6);
  t.equal(opens.length, 1);
});
