import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, SimpleSpanProcessor, TraceIdRatioBasedSampler,
  type SpanExporter, type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';

/** Spans are built, sampled and handed to an exporter that drops them: the SDK's full cost, no I/O. */
const noopExporter: SpanExporter = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} };

/**
 * How ended spans reach the exporter. `batch` is what production runs (`NodeSDK`'s default): spans
 * queue and leave 512 at a time. `simple` exports each span as it ends — a promise chain and a
 * `context.with(suppressTracing)` per span, which OpenTelemetry documents as for debugging and
 * tests; the bench used it until session 5 and TRELLIS_BENCH_SPAN_PROCESSOR=simple brings it back
 * for comparison.
 */
export type SpanProcessorKind = 'batch' | 'simple';

function spanProcessor(kind: SpanProcessorKind): SpanProcessor {
  return kind === 'simple' ? new SimpleSpanProcessor(noopExporter) : new BatchSpanProcessor(noopExporter);
}

/**
 * Registers an OpenTelemetry SDK globally, as an application does once per process: the
 * AsyncLocalStorage context manager, a parent-based sampler (`sampleRatio` 1 samples every call, as
 * the "tracing with a no-op exporter"; 0.01 is a typical production ratio) and a span
 * processor in front of an exporter that drops the spans.
 */
export function installTracingSdk(
  sampleRatio: number,
  processor: SpanProcessorKind = process.env.TRELLIS_BENCH_SPAN_PROCESSOR === 'simple' ? 'simple' : 'batch',
): void {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const root = sampleRatio >= 1 ? new AlwaysOnSampler() : new TraceIdRatioBasedSampler(sampleRatio);
  trace.setGlobalTracerProvider(new BasicTracerProvider({
    sampler: new ParentBasedSampler({ root }),
    spanProcessors: [spanProcessor(processor)],
  }));
}
