import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { Code, RpcClient, RpcError, RpcServer } from '@trellis/core';
import { createTickHandlers, loadTickService, TickProbe, waitFor, type Tick } from '@trellis/testkit';
import t from 'tap';
import { ATTEMPT_EVENT, tracing } from '../src/index.js';
import { serviceTracing, useAsyncLocalStorage } from './fixtures/otel.js';

useAsyncLocalStorage();

/** Streams (issue #18) over the native transport on loopback: one span per stream each side. */
async function* ticks(n: number): AsyncGenerator<Tick> {
  for (let seq = 1; seq <= n; seq++) yield { seq };
}

async function setUp(t: { teardown(fn: () => unknown): void }) {
  const serverSide = serviceTracing('provider');
  const clientSide = serviceTracing('consumer');
  const probe = new TickProbe();
  const server = new RpcServer({ host: '127.0.0.1', plugins: [tracing({ tracerProvider: serverSide.provider })] })
    .addService(loadTickService(), createTickHandlers('a', probe));
  await server.start();
  t.teardown(() => server.close({ graceMs: 1000 }));
  const client = new RpcClient({
    service: loadTickService(), addresses: [`127.0.0.1:${server.port}`],
    plugins: [tracing({ tracerProvider: clientSide.provider })],
  });
  t.teardown(() => client.close());
  return { serverSide, clientSide, probe, client };
}

t.test('one CLIENT and one SERVER span per stream, in one trace, with message counts', async (t) => {
  const { serverSide, clientSide, probe, client } = await setUp(t);
  let received = 0;
  for await (const tick of client.stream('Ticks', { count: 6 })) if (tick) received++;
  t.equal(received, 6);
  let relayed = 0;
  for await (const tick of client.stream('Relay', ticks(3))) if (tick) relayed++;
  t.equal(relayed, 3);
  await waitFor(() => probe.closed === 2, { timeoutMs: 10_000, what: 'both handlers ended' });

  const clientSpans = (await clientSide.spans()).filter((s) => s.kind === SpanKind.CLIENT);
  const serverSpans = (await serverSide.spans()).filter((s) => s.kind === SpanKind.SERVER);
  t.same(clientSpans.map((s) => s.name), ['trellis.test.TickService/Ticks', 'trellis.test.TickService/Relay'], 'one client span per stream');
  t.same(serverSpans.map((s) => s.name), ['trellis.test.TickService/Ticks', 'trellis.test.TickService/Relay'], 'one server span per stream');
  const [watch, relay] = clientSpans;
  t.match(watch!.attributes, {
    'trellis.stream.kind': 'server-streaming', 'trellis.stream.messages.sent': 1, 'trellis.stream.messages.received': 6,
    'rpc.trellis.status_code': Code.OK, 'trellis.attempts': 1,
  });
  t.type(watch!.attributes['trellis.stream.set_up_ms'], 'number');
  t.equal(watch!.events.filter((e) => e.name === ATTEMPT_EVENT).length, 1, 'the set-up is the one attempt event');
  t.equal(watch!.events.length, 1, 'no event per message by default');
  t.match(relay!.attributes, { 'trellis.stream.kind': 'bidi-streaming', 'trellis.stream.messages.sent': 3, 'trellis.stream.messages.received': 3 });
  for (let i = 0; i < 2; i++) {
    t.equal(serverSpans[i]!.spanContext().traceId, clientSpans[i]!.spanContext().traceId, 'the server span continues the stream’s trace');
    t.equal(serverSpans[i]!.parentSpanContext?.spanId, clientSpans[i]!.spanContext().spanId);
  }
  t.equal(serverSpans[0]!.attributes['trellis.stream.kind'], 'server-streaming');
  t.equal(serverSpans[0]!.attributes['rpc.trellis.status_code'], Code.OK);
  t.match(serverSpans[0]!.attributes, { 'trellis.stream.messages.sent': 6, 'trellis.stream.messages.received': 1 }, 'the server counts its side');
  t.match(serverSpans[1]!.attributes, { 'trellis.stream.messages.sent': 3, 'trellis.stream.messages.received': 3 });
});

t.test('a stream the caller leaves, and one that fails: both spans say how it ended', async (t) => {
  const { serverSide, clientSide, probe, client } = await setUp(t);
  let taken = 0;
  for await (const tick of client.stream('Ticks', { count: 0, intervalMs: 5 })) if (tick && ++taken === 2) break;
  const failed = await (async () => {
    for await (const tick of client.stream('Ticks', { count: 1, failCode: Code.INTERNAL })) void tick;
  })().catch((e: unknown) => e);
  t.equal((failed as RpcError).code, Code.INTERNAL);
  await waitFor(() => probe.closed === 2, { timeoutMs: 10_000, what: 'both handlers ended' });
  await waitFor(() => serverSide.exporter.getFinishedSpans().length === 2, { timeoutMs: 10_000, what: 'both server spans ended' });

  const [left, broke] = (await clientSide.spans()).filter((s) => s.kind === SpanKind.CLIENT);
  t.match(left!.attributes, { 'error.type': 'CANCELLED', 'trellis.stream.messages.received': 2 });
  t.match(broke!.attributes, { 'error.type': 'INTERNAL', 'trellis.stream.messages.received': 1 });
  t.equal(broke!.status.code, SpanStatusCode.ERROR);
  // Server spans end in whatever order the handlers stopped: match them by trace.
  const serverSpans = (await serverSide.spans()).filter((s) => s.kind === SpanKind.SERVER);
  const serverOf = (client: typeof left) => serverSpans.find((s) => s.spanContext().traceId === client!.spanContext().traceId);
  const leftServer = serverOf(left);
  const brokeServer = serverOf(broke);
  t.match(leftServer!.attributes, { 'error.type': 'CANCELLED' }, 'the handler was stopped by the client’s cancel');
  t.equal(leftServer!.status.code, SpanStatusCode.UNSET, 'a cancel is not the server’s fault');
  t.match(brokeServer!.attributes, { 'error.type': 'INTERNAL' });
  t.equal(brokeServer!.status.code, SpanStatusCode.ERROR);
});
