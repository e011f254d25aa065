/**
 * Nothing of OpenTelemetry registered — no SDK, no context manager, no propagator — as in a service
 * that installs the plugin but not (yet) the SDK: the plugin then skips its work on both sides, and
 * what an application registers later (context manager, SDK) takes effect at the next call. Its own
 * file: it sets process-wide OpenTelemetry state.
 */
import { SpanKind, trace } from '@opentelemetry/api';
import t from 'tap';
import { startChain } from './fixtures/chain.js';
import { serviceTracing, useAsyncLocalStorage } from './fixtures/otel.js';

t.test('with nothing registered calls carry no trace; a context manager and SDK registered later trace the next call', async (t) => {
  const chain = await startChain({ globalProvider: true });
  t.teardown(() => chain.close());
  t.match(await chain.consumer.invoke('Forward', { message: 'x' }), { message: 'x' });
  t.equal(chain.seenByB[0]?.metadata.get('traceparent'), undefined, 'nothing to propagate: no header');
  t.equal(chain.seenByA[0], undefined, 'no active span in the handler');

  useAsyncLocalStorage();
  const sdk = serviceTracing('everyone');
  t.ok(trace.setGlobalTracerProvider(sdk.provider));
  await chain.consumer.invoke('Forward', { message: 'y' });
  const spans = await sdk.spans();
  t.same(spans.map((s) => SpanKind[s.kind]).sort(), ['CLIENT', 'CLIENT', 'SERVER', 'SERVER'], 'both hops traced on both sides');
  t.equal(new Set(spans.map((s) => s.spanContext().traceId)).size, 1, 'one trace');
  const aServer = spans.find((s) => s.kind === SpanKind.SERVER && s.name.endsWith('/Forward'))!;
  t.equal(chain.seenByA[1]?.spanId, aServer.spanContext().spanId, 'A’s handler runs in its SERVER span’s context');
  const bServer = spans.find((s) => s.kind === SpanKind.SERVER && s.name.endsWith('/Echo'))!;
  t.equal(chain.seenByB[1]?.metadata.get('traceparent'), `00-${bServer.spanContext().traceId}-${bServer.parentSpanContext!.spanId}-01`);
});
