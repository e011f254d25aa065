import { Code, type MethodDescriptor, type ServerInterceptor } from '@trellis/core';
import type { Clock } from '@trellis/core/spi';
import { codeLabel, codeOf } from './codes.js';
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
}

/**
 * One server's metrics. The interceptor sits at METRICS, inside tracing and outside rate limiting
 * and auth, so calls those refuse are counted with their code. Calls the kernel refuses before any
 * interceptor (unknown method, undecodable request) are not seen here.
 */
export class ServerMetrics implements ServerView {
  // Keyed by descriptor: the server hands every call of a method the same descriptor object.
  private readonly methods = new Map<MethodDescriptor, ServerMethodSeries>();

  constructor(private readonly families: ServerFamilies, private readonly clock: Clock) {}

  *inflight(): Iterable<readonly [MethodLabels, number]> {
    for (const series of this.methods.values()) yield [series.labels, series.inflight];
  }

  readonly interceptor: ServerInterceptor = (next) => (inv) => {
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
}
