import { Code, isStreamKind, RpcError, type MethodDescriptor, type ServerInterceptor, type ServerInvocation } from '@trellis/core';
import type { Clock } from '@trellis/core/spi';
import { codeLabel, codeOf } from './codes.js';
import type { MethodTotals } from './client-metrics.js';
import type { CounterSeries, HistogramSeries } from './fast-families.js';
import type { MethodLabels, ServerFamilies, ServerView } from './metric-families.js';

class ServerMethodSeries {
  inflight = 0;
  readonly labels: MethodLabels;
  readonly duration: HistogramSeries;
  private readonly byCode: (CounterSeries | undefined)[] = [];

  constructor(private readonly families: ServerFamilies, service: string, method: string) {
    this.labels = { service, method };
    this.duration = families.duration.series(this.labels);
  }

  requests(code: Code): CounterSeries {
    return (this.byCode[code] ??= this.families.requests.series({ ...this.labels, code: codeLabel(code) }));
  }

  totals(): MethodTotals {
    const calls: Record<string, number> = {};
    this.byCode.forEach((series, code) => {
      if (series !== undefined) calls[codeLabel(code)] = series.value;
    });
    const { bounds, counts, count, sum } = this.duration;
    return { calls, latency: { bounds, counts: [...counts], count, sum } };
  }
}

/** A stream method's series (issue #18): its own families, so streams do not skew call latency. */
class ServerStreamSeries {
  inflight = 0;
  readonly labels: MethodLabels;
  readonly started: CounterSeries;
  readonly duration: HistogramSeries;
  readonly sent: CounterSeries;
  readonly received: CounterSeries;
  private readonly byCode: (CounterSeries | undefined)[] = [];

  constructor(private readonly families: ServerFamilies['streams'], service: string, method: string) {
    this.labels = { service, method };
    this.started = families.started.series(this.labels);
    this.duration = families.duration.series(this.labels);
    this.sent = families.messagesSent.series(this.labels);
    this.received = families.messagesReceived.series(this.labels);
  }

  finished(code: Code): CounterSeries {
    return (this.byCode[code] ??= this.families.finished.series({ ...this.labels, code: codeLabel(code) }));
  }
}

/**
 * How a stream ended, once its handler is done. A cancel, the deadline or a dropped connection
 * stops the handler without an error (the kernel returns its generator), so the call's aborted
 * signal says the code; a handler that finished on its own ended OK.
 */
function streamCode(inv: ServerInvocation, error?: unknown): Code {
  if (error !== undefined) return codeOf(error);
  if (!inv.signal.aborted) return Code.OK;
  const reason: unknown = inv.signal.reason;
  return reason instanceof RpcError ? reason.code : Code.CANCELLED;
}

/**
 * One server's metrics. The interceptor sits at METRICS, inside tracing and outside rate limiting
 * and auth, so calls those refuse are counted with their code. Calls the kernel refuses before any
 * interceptor (unknown method, undecodable request) are not seen here.
 */
export class ServerMetrics implements ServerView {
  // Keyed by descriptor: the server hands every call of a method the same descriptor object.
  private readonly methods = new Map<MethodDescriptor, ServerMethodSeries>();
  private readonly streams = new Map<MethodDescriptor, ServerStreamSeries>();

  constructor(private readonly families: ServerFamilies, private readonly clock: Clock) {}

  /**
   * The operator's read-out (`inspect()`, the admin console): per unary method (`service/method`)
   * its running totals since start, the same shape as a client's, and what is in flight now.
   */
  inspect(): { methods: Record<string, MethodTotals>; inflight: Record<string, number> } {
    const methods: Record<string, MethodTotals> = {};
    const inflight: Record<string, number> = {};
    for (const series of this.methods.values()) {
      const name = `${series.labels.service}/${series.labels.method}`;
      methods[name] = series.totals();
      inflight[name] = series.inflight;
    }
    for (const series of this.streams.values()) inflight[`${series.labels.service}/${series.labels.method}`] = series.inflight;
    return { methods, inflight };
  }

  *inflight(): Iterable<readonly [MethodLabels, number]> {
    for (const series of this.methods.values()) yield [series.labels, series.inflight];
    for (const series of this.streams.values()) yield [series.labels, series.inflight];
  }

  readonly interceptor: ServerInterceptor = (next) => (inv) => {
    if (isStreamKind(inv.method.kind)) return this.aroundStream(next, inv);
    let series = this.methods.get(inv.method);
    if (series === undefined) this.methods.set(inv.method, (series = new ServerMethodSeries(this.families, inv.service.name, inv.method.name)));
    const method = series;
    method.inflight++;
    const started = this.clock.now();
    let pending: Promise<unknown>;
    try {
      pending = next(inv);
    } catch (error) {
      pending = Promise.reject(error);
    }
    return pending.then(
      (response) => {
        method.inflight--;
        method.requests(Code.OK).value++;
        method.duration.observe((this.clock.now() - started) / 1000);
        return response;
      },
      (error: unknown) => {
        method.inflight--;
        method.requests(codeOf(error)).value++;
        method.duration.observe((this.clock.now() - started) / 1000);
        throw error;
      },
    );
  };

  /** A stream: started as the chain reaches it, finished when its handler is done (the whole stream). */
  private aroundStream(next: (inv: ServerInvocation) => Promise<unknown>, inv: ServerInvocation): Promise<unknown> {
    let series = this.streams.get(inv.method);
    if (series === undefined) this.streams.set(inv.method, (series = new ServerStreamSeries(this.families.streams, inv.service.name, inv.method.name)));
    const stream = series;
    stream.inflight++;
    stream.started.value++;
    const started = this.clock.now();
    const end = (code: Code): void => {
      stream.inflight--;
      stream.finished(code).value++;
      stream.duration.observe((this.clock.now() - started) / 1000);
      stream.sent.value += inv.stream?.messagesSent ?? 0;
      stream.received.value += inv.stream?.messagesReceived ?? 0;
    };
    let pending: Promise<unknown>;
    try {
      pending = next(inv);
    } catch (error) {
      pending = Promise.reject(error);
    }
    return pending.then(
      (response) => {
        end(streamCode(inv));
        return response;
      },
      (error: unknown) => {
        end(streamCode(inv, error));
        throw error;
      },
    );
  }
}
