import { isStreamKind, type Code, type MethodDescriptor, type ServerCallObserver } from '@trellis/core';
import { LastHitMap } from '@trellis/core/toolkit';
import { codeLabel } from './codes.js';
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

/** One server's metrics, kept by a server call observer (`observer`). */
export class ServerMetrics implements ServerView {
  // Keyed by descriptor: the server hands every call of a method the same descriptor object.
  // Unary methods' series, read through the last hit: a server mostly answers a few methods, so most
  // calls find the same descriptor again (an identity check) and skip the Map, as the client's
  // series look-ups do.
  private readonly methods = new LastHitMap<MethodDescriptor, ServerMethodSeries>();
  private readonly streams = new Map<MethodDescriptor, ServerStreamSeries>();

  constructor(private readonly families: ServerFamilies) {}

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

  /**
   * The server observer (no interceptor layer): a call is in flight from the kernel's `callStart` to
   * its `callEnd`, and counted there with the kernel's code and latency. Observers run before every
   * gate and interceptor, so calls the limiter or auth refuse are counted with their code. Calls the
   * kernel refuses before the hooks (unknown method, undecodable request) are not seen here.
   */
  readonly observer: ServerCallObserver<ServerMethodSeries | ServerStreamSeries> = {
    callStart: (inv) => {
      if (isStreamKind(inv.method.kind)) {
        let stream = this.streams.get(inv.method);
        if (stream === undefined) this.streams.set(inv.method, (stream = new ServerStreamSeries(this.families.streams, inv.service.name, inv.method.name)));
        stream.inflight++;
        stream.started.value++;
        return stream;
      }
      let method = this.methods.get(inv.method);
      if (method === undefined) this.methods.set(inv.method, (method = new ServerMethodSeries(this.families, inv.service.name, inv.method.name)));
      method.inflight++;
      return method;
    },
    callEnd: (end, series) => {
      if (series === undefined) return;
      series.inflight--;
      series.duration.observe(end.latencyMs / 1000);
      if (series instanceof ServerMethodSeries) {
        series.requests(end.code).value++;
        return;
      }
      // A stream (issue #18): its whole life; the kernel's code is the abort's status for a stream
      // a cancel, the deadline or a dropped connection stopped.
      series.finished(end.code).value++;
      series.sent.value += end.invocation.stream?.messagesSent ?? 0;
      series.received.value += end.invocation.stream?.messagesReceived ?? 0;
    },
  };
}
