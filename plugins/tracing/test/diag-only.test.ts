/**
 * Only a diag logger registered: the OpenTelemetry API's globals object then exists, so the plugin's
 * one-load "nothing registered" check says no and its precise checks decide — they must still find
 * no SDK and no context manager (no trace, no header), and an SDK registered later must trace the
 * next call. Its own file: it sets process-wide OpenTelemetry state.
 */
import { diag, DiagLogLevel, SpanKind, trace } from '@opentelemetry/api';
import t from 'tap';
import { startChain } from './fixtures/chain.js';
import { serviceTracing, useAsyncLocalStorage } from './fixtures/otel.js';

t.test('with only a diag logger registered calls carry no trace; an SDK registered later traces the next call', async (t) => {
  const logged: string[] = [];
  const record = (message: string): void => {
    logged.push(message);
  };
  t.ok(diag.setLogger({ error: record, warn: record, info: record, debug: record, verbose: record }, DiagLogLevel.WARN));
  t.teardown(() => diag.disable());
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
  t.same(logged, [], 'the API logged no warning or error');
});
