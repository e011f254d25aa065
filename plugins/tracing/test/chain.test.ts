import { context, propagation, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Code, RpcError } from '@trellis/core';
import t from 'tap';
import { ATTEMPT_EVENT, formatTraceTree } from '../src/index.js';
import { inRootSpan, startChain, type Chain, type ForwardReply } from './fixtures/chain.js';
import { useAsyncLocalStorage } from './fixtures/otel.js';

useAsyncLocalStorage();

async function allSpans(chain: Chain): Promise<{ consumer: ReadableSpan[]; a: ReadableSpan[]; b: ReadableSpan[] }> {
  return { consumer: await chain.tracing.consumer.spans(), a: await chain.tracing.a.spans(), b: await chain.tracing.b.spans() };
}

function only(spans: ReadableSpan[], kind: SpanKind): ReadableSpan {
  const found = spans.filter((s) => s.kind === kind);
  if (found.length !== 1) throw new Error(`expected one ${SpanKind[kind]} span, got ${found.map((s) => s.name).join(', ')}`);
  return found[0]!;
}

t.test('consumer → A → B over real connections is one trace with the right parents and attributes', async (t) => {
  const chain = await startChain();
  t.teardown(() => chain.close());
  const { root, result } = await inRootSpan(chain, 'checkout', () => chain.consumer.invoke('Forward', { message: 'hi' }));
  t.same(result, { message: 'hi', servedBy: 'b' } satisfies ForwardReply);

  const spans = await allSpans(chain);
  t.equal(spans.consumer.length, 2, 'consumer: its root span and one CLIENT span');
  t.equal(spans.a.length, 2, 'A: one SERVER span and one CLIENT span');
  t.equal(spans.b.length, 1, 'B: one SERVER span');

  const checkout = spans.consumer.find((s) => s.name === 'checkout')!;
  const consumerClient = only(spans.consumer, SpanKind.CLIENT);
  const aServer = only(spans.a, SpanKind.SERVER);
  const aClient = only(spans.a, SpanKind.CLIENT);
  const bServer = only(spans.b, SpanKind.SERVER);

  const all = [checkout, consumerClient, aServer, aClient, bServer];
  t.same(new Set(all.map((s) => s.spanContext().traceId)), new Set([root.traceId]), 'one trace id everywhere');
  t.equal(new Set(all.map((s) => s.spanContext().spanId)).size, 5, 'five distinct spans');
  t.equal(consumerClient.parentSpanContext?.spanId, checkout.spanContext().spanId, 'consumer CLIENT ← the caller’s active span');
  t.equal(aServer.parentSpanContext?.spanId, consumerClient.spanContext().spanId, 'A SERVER ← consumer CLIENT');
  t.equal(aServer.parentSpanContext?.isRemote, true, 'A’s parent came over the wire');
  t.equal(aClient.parentSpanContext?.spanId, aServer.spanContext().spanId, 'A CLIENT ← A SERVER (the handler’s call ran in its context)');
  t.equal(bServer.parentSpanContext?.spanId, aClient.spanContext().spanId, 'B SERVER ← A CLIENT');

  t.equal(consumerClient.name, 'trellis.tracing.test.Relay/Forward');
  t.equal(aServer.name, 'trellis.tracing.test.Relay/Forward');
  t.equal(aClient.name, 'trellis.test.EchoService/Echo');
  t.equal(bServer.name, 'trellis.test.EchoService/Echo');
  t.match(consumerClient.attributes, {
    'rpc.system': 'trellis', 'rpc.service': 'trellis.tracing.test.Relay', 'rpc.method': 'Forward',
    'server.address': '127.0.0.1', 'server.port': chain.a.port, 'rpc.trellis.status_code': Code.OK, 'trellis.attempts': 1,
  });
  t.match(aServer.attributes, {
    'rpc.system': 'trellis', 'rpc.service': 'trellis.tracing.test.Relay', 'rpc.method': 'Forward',
    'network.peer.address': '127.0.0.1', 'server.port': chain.a.port, 'rpc.trellis.status_code': Code.OK,
    'trellis.attempt': 1, 'trellis.caller': 'consumer',
  });
  t.type(aServer.attributes['network.peer.port'], 'number');
  t.match(aClient.attributes, { 'rpc.service': 'trellis.test.EchoService', 'rpc.method': 'Echo', 'server.port': chain.b.port });
  t.match(bServer.attributes, { 'rpc.service': 'trellis.test.EchoService', 'rpc.method': 'Echo', 'trellis.caller': 'service-a' });
  for (const span of all) t.equal(span.status.code, SpanStatusCode.UNSET, `${span.name} (${SpanKind[span.kind]}) has no error status`);

  const attempts = consumerClient.events.filter((e) => e.name === ATTEMPT_EVENT);
  t.equal(attempts.length, 1, 'one attempt event');
  t.match(attempts[0]!.attributes, { 'trellis.attempt.index': 1, 'trellis.attempt': 1, 'trellis.attempt.transparent': false, 'server.port': chain.a.port, 'rpc.trellis.status_code': 0 });

  // What the handlers saw: A's active span after an await, and B's incoming traceparent.
  t.equal(chain.seenByA[0]?.spanId, aServer.spanContext().spanId, 'A’s handler runs in its SERVER span, across awaits');
  t.equal(chain.seenByB[0]?.active?.spanId, bServer.spanContext().spanId, 'B’s handler runs in its SERVER span');
  t.equal(chain.seenByB[0]?.metadata.get('traceparent'), `00-${root.traceId}-${aClient.spanContext().spanId}-01`);

  const tree = formatTraceTree([...spans.consumer, ...spans.a, ...spans.b]);
  t.comment(`\n${tree}`);
  const lines = tree.split('\n');
  t.equal(lines[0], `trace ${root.traceId}`);
  t.match(lines[1], /^checkout {2}INTERNAL {2}\(consumer\)/);
  t.match(lines[2], /^└─ trellis\.tracing\.test\.Relay\/Forward {2}CLIENT {2}\(consumer\) {2}→ 127\.0\.0\.1:\d+/);
  t.match(lines[3], /^ {3}│ {2}· send #1 \(attempt 1\) → 127\.0\.0\.1:\d+ {2}OK/);
  t.match(lines[4], /^ {3}└─ trellis\.tracing\.test\.Relay\/Forward {2}SERVER {2}\(service-a\)/);
  t.match(lines[5], /^ {6}└─ trellis\.test\.EchoService\/Echo {2}CLIENT {2}\(service-a\)/);
  t.match(lines[7], /^ {9}└─ trellis\.test\.EchoService\/Echo {2}SERVER {2}\(service-b\)/);
  t.equal(lines.length, 8);
});

t.test('baggage set by the consumer reaches B through A', async (t) => {
  const chain = await startChain();
  t.teardown(() => chain.close());
  const baggage = propagation.createBaggage({ tenant: { value: 'acme corp;1' } });
  await context.with(propagation.setBaggage(context.active(), baggage), () => chain.consumer.invoke('Forward', { message: 'x' }));
  t.equal(chain.seenByB[0]?.tenant, 'acme corp;1', 'B’s handler reads the consumer’s baggage from its active context');
  t.equal(chain.seenByB[0]?.metadata.get('baggage'), 'tenant=acme%20corp%3B1');
});

t.test('calls without an active span start their own trace', async (t) => {
  const chain = await startChain();
  t.teardown(() => chain.close());
  await chain.consumer.invoke('Forward', { message: 'one' });
  await chain.consumer.invoke('Forward', { message: 'two' });
  const spans = await allSpans(chain);
  const clients = spans.consumer.filter((s) => s.kind === SpanKind.CLIENT);
  t.equal(clients.length, 2);
  t.equal(clients[0]!.parentSpanContext, undefined, 'a root span');
  t.not(clients[0]!.spanContext().traceId, clients[1]!.spanContext().traceId, 'two calls, two traces');
  const bTraces = spans.b.map((s) => s.spanContext().traceId).sort();
  t.same(bTraces, clients.map((s) => s.spanContext().traceId).sort(), 'each reaches B in its own trace');
});

t.test('errors are recorded: status by the gRPC rules, the code, and the exception', async (t) => {
  const chain = await startChain();
  t.teardown(() => chain.close());

  const notFound = (await chain.consumer.invoke('Forward', { message: 'x', failCode: Code.NOT_FOUND }).catch((e: unknown) => e)) as RpcError;
  t.equal(notFound.code, Code.NOT_FOUND);
  let spans = await allSpans(chain);
  const bServer = only(spans.b, SpanKind.SERVER);
  t.equal(bServer.status.code, SpanStatusCode.UNSET, 'NOT_FOUND is the caller’s problem: a server span stays unset');
  t.match(bServer.attributes, { 'rpc.trellis.status_code': Code.NOT_FOUND, 'error.type': 'NOT_FOUND' });
  t.equal(bServer.events.filter((e) => e.name === 'exception').length, 1, 'the exception is recorded on B');
  const aClient = only(spans.a, SpanKind.CLIENT);
  t.equal(aClient.status.code, SpanStatusCode.ERROR, 'any failure is an error on a client span');
  t.match(aClient.status.message, /injected failure/);
  t.match(aClient.attributes, { 'rpc.trellis.status_code': Code.NOT_FOUND, 'error.type': 'NOT_FOUND', 'server.port': chain.b.port });
  t.match(aClient.events.find((e) => e.name === 'exception')?.attributes, { 'exception.type': 'RpcError', 'exception.message': 'injected failure' });
  t.match(aClient.events.find((e) => e.name === ATTEMPT_EVENT)?.attributes, { 'error.type': 'NOT_FOUND', 'trellis.error.message': 'injected failure' });
  const consumerClient = only(spans.consumer, SpanKind.CLIENT);
  t.equal(consumerClient.status.code, SpanStatusCode.ERROR);
  t.equal(consumerClient.attributes['error.type'], 'NOT_FOUND', 'the code crossed both hops');

  for (const s of Object.values(chain.tracing)) s.exporter.reset();
  const internal = (await chain.consumer.invoke('Forward', { message: 'x', failCode: Code.INTERNAL }).catch((e: unknown) => e)) as RpcError;
  t.equal(internal.code, Code.INTERNAL);
  spans = await allSpans(chain);
  t.equal(only(spans.b, SpanKind.SERVER).status.code, SpanStatusCode.ERROR, 'INTERNAL is the server’s fault: error status');
  t.equal(only(spans.a, SpanKind.SERVER).status.code, SpanStatusCode.ERROR);
});
