/**
 * The plugin with no tracerProvider and `propagator: propagation`: everything global, as in an
 * application that registers the SDK itself. Its own file: it sets process-wide OpenTelemetry state.
 */
import { context, propagation, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import t from 'tap';
import { startChain } from './fixtures/chain.js';
import { otelCore, serviceTracing, useAsyncLocalStorage } from './fixtures/otel.js';

useAsyncLocalStorage();
propagation.setGlobalPropagator(new otelCore.CompositePropagator({
  propagators: [new otelCore.W3CTraceContextPropagator(), new otelCore.W3CBaggagePropagator()],
}));

const REMOTE = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1, isRemote: true };

t.test('with no SDK registered the caller’s context still crosses every hop unchanged', async (t) => {
  const chain = await startChain({ globalProvider: true, propagator: propagation });
  t.teardown(() => chain.close());
  await context.with(trace.setSpanContext(ROOT_CONTEXT, REMOTE), () => chain.consumer.invoke('Forward', { message: 'x' }));
  t.equal(chain.seenByB[0]?.metadata.get('traceparent'), `00-${REMOTE.traceId}-${REMOTE.spanId}-01`, 'no-op spans pass the parent through');
  t.equal(chain.seenByA[0]?.spanId, REMOTE.spanId);

  // The SDK arrives after the clients and servers were set up: the plugin's proxy tracer follows it.
  const sdk = serviceTracing('everyone');
  t.ok(trace.setGlobalTracerProvider(sdk.provider));
  await chain.consumer.invoke('Forward', { message: 'y' });
  const spans = await sdk.spans();
  t.same(spans.map((s) => SpanKind[s.kind]).sort(), ['CLIENT', 'CLIENT', 'SERVER', 'SERVER']);
  t.equal(new Set(spans.map((s) => s.spanContext().traceId)).size, 1, 'one trace, propagated by the global propagator');
  const bServer = spans.find((s) => s.kind === SpanKind.SERVER && s.name.endsWith('/Echo'))!;
  t.equal(chain.seenByB[1]?.metadata.get('traceparent'), `00-${bServer.spanContext().traceId}-${bServer.parentSpanContext!.spanId}-01`);
});
