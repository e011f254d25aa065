import { Code, type Endpoint, type EndpointInterceptor, type HealthView, type Interceptor, type Result } from '@trellis/core';
import type { Clock } from '@trellis/core/spi';
import { codeLabel, codeOf } from './codes.js';
import type { CounterSeries, HistogramSeries } from './fast-families.js';
import type { ClientFamilies, ClientView } from './metric-families.js';

/** The series of one method, looked up once: a call then only bumps numbers. */
class MethodSeries {
  readonly duration: HistogramSeries;
  private readonly byCode: (CounterSeries | undefined)[] = [];

  constructor(private readonly families: ClientFamilies, private readonly service: string, private readonly method: string) {
    this.duration = families.duration.series({ service, method });
  }

  requests(code: Code): CounterSeries {
    return (this.byCode[code] ??= this.families.requests.series({ service: this.service, method: this.method, code: codeLabel(code) }));
  }
}

class EndpointSeries {
  inflight = 0;
  readonly duration: HistogramSeries;
  private readonly byMethod = new Map<string, (CounterSeries | undefined)[]>();

  constructor(private readonly families: ClientFamilies, private readonly service: string, private readonly id: string) {
    this.duration = families.attemptDuration.series({ service, endpoint: id });
  }

  attempts(method: string, code: Code): CounterSeries {
    let codes = this.byMethod.get(method);
    if (codes === undefined) this.byMethod.set(method, (codes = []));
    return (codes[code] ??= this.families.attempts.series({ service: this.service, method, endpoint: this.id, code: codeLabel(code) }));
  }
}

function settle<T>(start: () => Promise<T>): Promise<T> {
  try {
    return start();
  } catch (error) {
    return Promise.reject(error); // a synchronous throw below is still a failed call to count
  }
}

/**
 * One client's metrics: a cluster interceptor counts calls (one per call, whatever retry did below
 * it) and an endpoint interceptor counts attempts and in-flight work per endpoint. The gauges read
 * this object at scrape time.
 */
export class ClientMetrics implements ClientView {
  endpoints: readonly Endpoint[] = [];
  private readonly methods = new Map<string, MethodSeries>();
  private readonly endpointSeries = new Map<string, EndpointSeries>();

  constructor(
    readonly service: string,
    readonly health: () => HealthView,
    private readonly families: ClientFamilies,
    private readonly clock: Clock,
  ) {}

  *inflight(): Iterable<readonly [string, number]> {
    const listed = new Set<string>();
    for (const endpoint of this.endpoints) {
      listed.add(endpoint.id);
      yield [endpoint.id, this.endpointSeries.get(endpoint.id)?.inflight ?? 0];
    }
    for (const [id, series] of this.endpointSeries) {
      // Gone from the list: shown while calls to it are still out. Its counters stay in the families.
      if (!listed.has(id) && series.inflight > 0) yield [id, series.inflight];
    }
  }

  /** Counts health view transitions; returns the unsubscribe function. */
  watchHealth(view: HealthView): () => void {
    const subscription = view.onChange((change) => {
      this.families.healthTransitions.inc({ service: this.service, endpoint: change.endpoint.id, from: change.from, to: change.to });
    });
    return () => subscription.dispose();
  }

  readonly interceptor: Interceptor = (next) => (inv) => {
    const name = inv.method.name;
    let series = this.methods.get(name);
    if (series === undefined) this.methods.set(name, (series = new MethodSeries(this.families, this.service, name)));
    const method = series;
    const started = this.clock.now();
    return settle(() => next(inv)).then(
      (result: Result) => {
        method.requests(Code.OK).value++;
        method.duration.observe((this.clock.now() - started) / 1000);
        return result;
      },
      (error: unknown) => {
        method.requests(codeOf(error)).value++;
        method.duration.observe((this.clock.now() - started) / 1000);
        throw error;
      },
    );
  };

  readonly endpointInterceptor: EndpointInterceptor = (next) => (inv, endpoint) => {
    let series = this.endpointSeries.get(endpoint.id);
    if (series === undefined) this.endpointSeries.set(endpoint.id, (series = new EndpointSeries(this.families, this.service, endpoint.id)));
    const target = series;
    const method = inv.method.name;
    target.inflight++;
    const started = this.clock.now();
    return settle(() => next(inv, endpoint)).then(
      (result) => {
        target.inflight--;
        target.attempts(method, Code.OK).value++;
        target.duration.observe((this.clock.now() - started) / 1000);
        return result;
      },
      (error: unknown) => {
        target.inflight--;
        target.attempts(method, codeOf(error)).value++;
        target.duration.observe((this.clock.now() - started) / 1000);
        throw error;
      },
    );
  };
}
