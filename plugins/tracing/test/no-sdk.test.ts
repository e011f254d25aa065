/**
 * Nothing of OpenTelemetry registered — no SDK, no context manager, no propagator — as in a service
 * that installs the plugin but not (yet) the SDK: the plugin then skips its work on both sides, and
 * what an application registers later (context manager, SDK) takes effect at the next call. Its own
 * file: it sets process-wide OpenTelemetry state.
 */
import { SpanKind } from '@opentelemetry/api';
import t from 'tap';
import { untracedThenLateSdk } from './fixtures/late-sdk.js';

t.test('with nothing registered calls carry no trace; a context manager and SDK registered later trace the next call', async (t) => {
  const { chain, spans } = await untracedThenLateSdk(t);
  const aServer = spans.find((s) => s.kind === SpanKind.SERVER && s.name.endsWith('/Forward'))!;
  t.equal(chain.seenByA[1]?.spanId, aServer.spanContext().spanId, 'A’s handler runs in its SERVER span’s context');
  const bServer = spans.find((s) => s.kind === SpanKind.SERVER && s.name.endsWith('/Echo'))!;
  t.equal(chain.seenByB[1]?.metadata.get('traceparent'), `00-${bServer.spanContext().traceId}-${bServer.parentSpanContext!.spanId}-01`);
});
