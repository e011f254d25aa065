import type { Metric, Registry } from 'prom-client';

/**
 * Counter and histogram families for the per-call path. prom-client's own `inc(labels)` and
 * `observe(labels, v)` hash the label object, validate it and allocate on every call (about 0.7 and
 * 0.9 µs each, measured); a call records up to three of them on each side. Here the caller looks a
 * series up once per label set and keeps it, so recording is a field increment.
 *
 * The families are registered in a prom-client Registry as metric objects: `name`, `help`, `type`,
 * `aggregator`, `get()` in the shape prom-client's own metrics return (MetricObjectWithValues), and
 * `reset()`. The registry formats them, merges them with the user's metrics and default labels,
 * and serves JSON for cluster aggregation, like any other.
 */
type Labels = Readonly<Record<string, string>>;

interface Value {
  readonly labels: Record<string, string | number>;
  readonly value: number;
  readonly metricName?: string;
  /** prom-client's buckets carry one (null without exemplars); kept for identical JSON. */
  readonly exemplar?: null;
}

export class CounterSeries {
  value = 0;
  constructor(readonly labels: Labels) {}
}

export class HistogramSeries {
  count = 0;
  sum = 0;
  /** Per bucket, not cumulative; the last slot is above the highest bound. */
  readonly counts: Float64Array;

  constructor(readonly labels: Labels, readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    this.count++;
    this.sum += value;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
  }
}

abstract class Family<S extends { readonly labels: Labels }> {
  readonly aggregator = 'sum';
  private readonly byKey = new Map<string, S>();

  // `name` is written by prom-client for OpenMetrics output (it strips a counter's `_total`).
  constructor(public name: string, readonly help: string, readonly labelNames: readonly string[]) {}

  /** The series of these labels; the same object for the same labels, so two users add up. */
  series(labels: Labels): S {
    const key = this.labelNames.map((n) => labels[n]).join('\u0000');
    let series = this.byKey.get(key);
    if (series === undefined) this.byKey.set(key, (series = this.create(labels)));
    return series;
  }

  protected all(): IterableIterator<S> {
    return this.byKey.values();
  }

  protected abstract create(labels: Labels): S;
  abstract reset(): void;

  /** Registers in `registry` as any prom-client metric. */
  registerIn(registry: Registry): this {
    registry.registerMetric(this as unknown as Metric);
    return this;
  }
}

export class CounterFamily extends Family<CounterSeries> {
  readonly type = 'counter';

  protected create(labels: Labels): CounterSeries {
    return new CounterSeries(labels);
  }

  reset(): void {
    for (const series of this.all()) series.value = 0;
  }

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Value[] }> {
    const values: Value[] = [];
    for (const series of this.all()) values.push({ labels: { ...series.labels }, value: series.value });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

export class HistogramFamily extends Family<HistogramSeries> {
  readonly type = 'histogram';

  constructor(name: string, help: string, labelNames: readonly string[], readonly buckets: readonly number[]) {
    super(name, help, labelNames);
  }

  protected create(labels: Labels): HistogramSeries {
    return new HistogramSeries(labels, this.buckets);
  }

  reset(): void {
    for (const series of this.all()) {
      series.count = 0;
      series.sum = 0;
      series.counts.fill(0);
    }
  }

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Value[] }> {
    const values: Value[] = [];
    const bucket = `${this.name}_bucket`;
    for (const series of this.all()) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += series.counts[i]!;
        values.push({ labels: { le, ...series.labels }, value: cumulative, metricName: bucket, exemplar: null });
      });
      values.push({ labels: { le: '+Inf', ...series.labels }, value: series.count, metricName: bucket, exemplar: null });
      values.push({ labels: { ...series.labels }, value: series.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...series.labels }, value: series.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
