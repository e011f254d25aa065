import { Code, isStreamKind, type Attempt, type CallEnd, type CallObserver, type Endpoint, type HealthView, type StreamStats } from '@trellis/core';
import { LastHitMap } from '@trellis/core/toolkit';
import { codeLabel } from './codes.js';
import type { CounterSeries, HistogramSeries } from './fast-families.js';
import type { ClientFamilies, ClientView } from './metric-families.js';

/** The counters of one method for an operator's read-out (`inspect()`): running totals since start. */
export interface MethodTotals {
  /** Calls by code label (`OK`, `UNAVAILABLE`…). */
  readonly calls: Record<string, number>;
  /** Call latency histogram: upper bounds in seconds, and per bucket (not cumulative) counts, the last one above every bound. */
  readonly latency: { readonly bounds: readonly number[]; readonly counts: readonly number[]; readonly count: number; readonly sum: number };
}

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

  totals(): MethodTotals {
    const calls: Record<string, number> = {};
    this.byCode.forEach((series, code) => {
      if (series !== undefined) calls[codeLabel(code)] = series.value;
    });
    const { bounds, counts, count, sum } = this.duration;
    return { calls, latency: { bounds, counts: [...counts], count, sum } };
  }
}

/** The series of one stream method (issue #18), looked up on its first stream. */
class StreamSeries {
  readonly started: CounterSeries;
  readonly sent: CounterSeries;
  readonly received: CounterSeries;
  readonly duration: HistogramSeries;
  private readonly byCode: (CounterSeries | undefined)[] = [];

  constructor(private readonly families: ClientFamilies['streams'], private readonly service: string, private readonly method: string) {
    const labels = { service, method };
    this.started = families.started.series(labels);
    this.sent = families.messagesSent.series(labels);
    this.received = families.messagesReceived.series(labels);
    this.duration = families.duration.series(labels);
  }

  finished(code: Code): CounterSeries {
    return (this.byCode[code] ??= this.families.finished.series({ service: this.service, method: this.method, code: codeLabel(code) }));
  }
}

class EndpointSeries {
  inflight = 0;
  readonly duration: HistogramSeries;
  /** Per method, its counters by code; read through the last hit (calls mostly repeat one method). */
  private readonly byMethod = new LastHitMap<string, (CounterSeries | undefined)[]>();

  constructor(private readonly families: ClientFamilies, private readonly service: string, private readonly id: string) {
    this.duration = families.attemptDuration.series({ service, endpoint: id });
  }

  /** Attempts sent to this endpoint so far, every method and code. */
  totalAttempts(): number {
    let total = 0;
    for (const codes of this.byMethod.values()) for (const series of codes) if (series !== undefined) total += series.value;
    return total;
  }

  attempts(method: string, code: Code): CounterSeries {
    let codes = this.byMethod.get(method);
    if (codes === undefined) this.byMethod.set(method, (codes = []));
    return (codes[code] ??= this.families.attempts.series({ service: this.service, method, endpoint: this.id, code: codeLabel(code) }));
  }
}

/**
 * One client's metrics, as a call observer: `callEnd` counts calls (one per call, whatever retry did
 * below), `attemptStart`/`attemptEnd` count attempts and in-flight work per endpoint. The kernel
 * calls them in its own flow with the codes and durations it measured, so recording costs no
 * interceptor layer, no promise and no clock read. The gauges read this object at scrape time.
 */
export class ClientMetrics implements ClientView, CallObserver {
  endpoints: readonly Endpoint[] = [];
  // Unary methods' and endpoints' series, read through the last hit: a client usually calls a few
  // methods on a few endpoints, so most look-ups are the same id string again (compared by identity
  // first) and skip the Map — three of them per call otherwise (callEnd, attemptStart, attemptEnd).
  private readonly methods = new LastHitMap<string, MethodSeries>();
  private readonly streamMethods = new Map<string, StreamSeries>();
  private readonly endpointSeries = new LastHitMap<string, EndpointSeries>();

  constructor(
    readonly service: string,
    readonly health: () => HealthView,
    private readonly families: ClientFamilies,
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

  /** Running totals per method and in-flight attempts per endpoint, for an operator's read-out. */
  inspect(): { methods: Record<string, MethodTotals>; inflight: Record<string, number>; attempts: Record<string, number> } {
    const methods: Record<string, MethodTotals> = {};
    for (const [name, series] of this.methods) methods[name] = series.totals();
    const attempts: Record<string, number> = {};
    for (const [id, series] of this.endpointSeries) attempts[id] = series.totalAttempts();
    return { methods, inflight: Object.fromEntries(this.inflight()), attempts };
  }

  /** Counts health view transitions; returns the unsubscribe function. */
  watchHealth(view: HealthView): () => void {
    const subscription = view.onChange((change) => {
      this.families.healthTransitions.inc({ service: this.service, endpoint: change.endpoint.id, from: change.from, to: change.to });
    });
    return () => subscription.dispose();
  }

  callEnd(call: CallEnd): void {
    if (call.stream !== undefined) return this.streamEnd(call, call.stream);
    const name = call.invocation.method.name;
    let series = this.methods.get(name);
    if (series === undefined) this.methods.set(name, (series = new MethodSeries(this.families, this.service, name)));
    series.requests(call.code).value++;
    series.duration.observe(call.latencyMs / 1000);
  }

  attemptStart(attempt: Attempt): void {
    this.series(attempt.endpoint.id).inflight++;
  }

  attemptEnd(attempt: Attempt): void {
    const target = this.series(attempt.endpoint.id);
    target.inflight--;
    target.attempts(attempt.invocation.method.name, attempt.code).value++;
    target.duration.observe(attempt.latencyMs / 1000);
    // A stream's attempt ends at its set-up: OK means the server accepted it, i.e. it started.
    if (attempt.code === Code.OK && isStreamKind(attempt.invocation.method.kind)) this.stream(attempt.invocation.method.name).started.value++;
  }

  /** A stream is over: its final code, whole duration and message counts (the kernel's StreamStats). */
  private streamEnd(call: CallEnd, stats: StreamStats): void {
    const series = this.stream(call.invocation.method.name);
    series.finished(call.code).value++;
    series.sent.value += stats.messagesSent;
    series.received.value += stats.messagesReceived;
    series.duration.observe(call.latencyMs / 1000);
  }

  private stream(name: string): StreamSeries {
    let series = this.streamMethods.get(name);
    if (series === undefined) this.streamMethods.set(name, (series = new StreamSeries(this.families.streams, this.service, name)));
    return series;
  }

  private series(id: string): EndpointSeries {
    let series = this.endpointSeries.get(id);
    if (series === undefined) this.endpointSeries.set(id, (series = new EndpointSeries(this.families, this.service, id)));
    return series;
  }
}
