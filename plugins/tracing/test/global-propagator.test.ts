/**
 * The plugin's default propagator follows the globally registered one (here B3, registered after the
 * clients and servers were set up), and suppressed tracing sends no context. Its own file: it sets
 * process-wide OpenTelemetry state.
 */
import { context, propagation, SpanKind } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { B3InjectEncoding, B3Propagator } from '@opentelemetry/propagator-b3';
import t from 'tap';
import { startChain } from './fixtures/chain.js';
import { useAsyncLocalStorage } from './fixtures/otel.js';

useAsyncLocalStorage();

t.test('the default propagator: W3C until a global one is registered, then that one (B3)', async (t) => {
  const chain = await startChain(); // no `propagator` option: the plugin's default
  t.teardown(() => chain.close());

  await chain.consumer.invoke('Forward', { message: 'before' });
  t.match(chain.seenByB[0]?.metadata.get('traceparent'), /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/, 'W3C while nothing is registered');
  t.notOk(chain.seenByB[0]?.metadata.has('x-b3-traceid'));

  t.ok(propagation.setGlobalPropagator(new B3Propagator({ injectEncoding: B3InjectEncoding.MULTI_HEADER })));
  t.teardown(() => propagation.disable());
  await chain.consumer.invoke('Forward', { message: 'after' });
  const seen = chain.seenByB[1]!.metadata;
  t.notOk(seen.has('traceparent'), 'no W3C header once B3 is the global propagator');
  t.match(seen.get('x-b3-traceid'), /^[0-9a-f]{32}$/);
  t.equal(seen.get('x-b3-sampled'), '1');

  // The trace crossed both hops in B3: B's server span continues the consumer's trace.
  const consumerSpans = await chain.tracing.consumer.spans();
  const bSpans = await chain.tracing.b.spans();
  const client = consumerSpans.filter((s) => s.kind === SpanKind.CLIENT).at(-1)!;
  const bServer = bSpans.at(-1)!;
  t.equal(bServer.kind, SpanKind.SERVER);
  t.equal(bServer.spanContext().traceId, client.spanContext().traceId, 'one trace, consumer → A → B, carried by B3');
  t.equal(seen.get('x-b3-traceid'), client.spanContext().traceId);
});

t.test('suppressed tracing: no span on the caller and no context in the request', async (t) => {
  const chain = await startChain();
  t.teardown(() => chain.close());
  const tenant = propagation.setBaggage(context.active(), propagation.createBaggage({ tenant: { value: 'acme' } }));
  await context.with(suppressTracing(tenant), () => chain.consumer.invoke('Forward', { message: 'quiet' }));
  t.same(await chain.tracing.consumer.spans(), [], 'the consumer recorded nothing');
  t.equal(chain.seenByB[0]?.tenant, undefined, 'no baggage travelled either');
  t.notOk(chain.seenByB[0]?.metadata.has('baggage'));
  const aServer = (await chain.tracing.a.spans()).find((s) => s.kind === SpanKind.SERVER)!;
  t.ok(aServer, 'A, whose tracing is not suppressed, still traces the call it received');
  t.equal(aServer.parentSpanContext, undefined, 'as a new trace: no context came with the request');

  await context.with(tenant, () => chain.consumer.invoke('Forward', { message: 'loud' }));
  t.equal((await chain.tracing.consumer.spans()).length, 1, 'outside the suppressed context the consumer traces again');
  t.equal(chain.seenByB[1]?.tenant, 'acme', 'and its baggage travels');
});
