import { Counter, Gauge } from 'prom-client';
import { invalidMetricsOption } from './errors.js';
import type { MetricFamilies } from './metric-families.js';
import type { MetricSource, SourceStateChange } from './metric-source.js';

interface Exported {
  readonly source: MetricSource;
  users: number;
  unsubscribe: (() => void) | undefined;
  readonly names: readonly string[];
}

const bySet = new WeakMap<MetricFamilies, Map<string, Exported>>();
const errorCounters = new WeakMap<MetricFamilies, Counter<'source'>>();
const errorsName = (families: MetricFamilies): string => `${families.prefix}metrics_source_errors_total`;

function errorsCounter(families: MetricFamilies): Counter<'source'> {
  let counter = errorCounters.get(families);
  if (counter === undefined) {
    const name = errorsName(families);
    counter = families.register(name, () => new Counter({
      name, help: 'Scrapes in which a source threw; its series were left out of that scrape.', labelNames: ['source'], registers: [families.registry],
    }));
    errorCounters.set(families, counter);
  }
  return counter;
}

function toDisposer(result: { dispose(): void } | (() => void) | undefined): (() => void) | undefined {
  if (typeof result === 'function') return result;
  if (result && typeof result.dispose === 'function') return () => result.dispose();
  return undefined;
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}

/** Reads a source for one scrape; a throw is counted and leaves the source out of that scrape. */
function read<T>(families: MetricFamilies, source: MetricSource, rows: () => Iterable<T>): T[] | undefined {
  try {
    return [...rows()];
  } catch {
    errorsCounter(families).inc({ source: source.name });
    return undefined;
  }
}

function stateGauge(families: MetricFamilies, source: MetricSource, states: () => Iterable<{ labels: Readonly<Record<string, string>>; state: string }>): string {
  const name = `${families.prefix}${source.name}_state`;
  const stateNames = source.stateNames!;
  families.register(name, () => new Gauge({
    name,
    help: source.help ?? `State of each ${source.name}: 1 for the current state, 0 for the others.`,
    labelNames: [...source.labelNames, 'state'],
    registers: [families.registry],
    collect() {
      this.reset();
      for (const row of read(families, source, states) ?? []) {
        for (const state of stateNames) this.set({ ...row.labels, state }, state === row.state ? 1 : 0);
        // A state the source did not declare still shows, rather than vanishing.
        if (!stateNames.includes(row.state)) this.set({ ...row.labels, state: row.state }, 1);
      }
    },
  }));
  return name;
}

type ValueRow = { labels: Readonly<Record<string, string>>; values: Readonly<Record<string, number | undefined>> };

function valueGauges(families: MetricFamilies, source: MetricSource): string[] {
  const values = source.values!.bind(source);
  // A scrape collects every family in one synchronous pass: one read of the source serves all its
  // value gauges, and is forgotten at the next microtask.
  let rows: ValueRow[] | undefined;
  let fresh = false;
  const current = (): ValueRow[] | undefined => {
    if (!fresh) {
      rows = read(families, source, values);
      fresh = true;
      queueMicrotask(() => {
        fresh = false;
        rows = undefined;
      });
    }
    return rows;
  };
  return source.valueNames!.map((valueName) => {
    const name = `${families.prefix}${source.name}_${valueName}`;
    families.register(name, () => new Gauge({
      name,
      help: `${valueName} of each ${source.name}.`,
      labelNames: [...source.labelNames],
      registers: [families.registry],
      collect() {
        this.reset();
        for (const row of current() ?? []) {
          const value = row.values[valueName];
          if (typeof value === 'number') this.set({ ...row.labels }, value);
        }
      },
    }));
    return name;
  });
}

/**
 * Exports a MetricSource. The same source object given to several plugins on one registry is
 * exported once; the returned function releases this plugin's use of it.
 */
export function exportSource(families: MetricFamilies, source: MetricSource): () => void {
  let exported = bySet.get(families);
  if (exported === undefined) bySet.set(families, (exported = new Map()));
  const known = exported.get(source.name);
  if (known !== undefined) {
    if (known.source !== source) {
      throw invalidMetricsOption('sources', source.name, 'a name no other source on this registry uses (each name is its own metric families)');
    }
    known.users++;
    return once(() => release(families, exported, known));
  }
  errorsCounter(families);
  const names: string[] = [];
  let unsubscribe: (() => void) | undefined;
  if (source.states !== undefined) {
    names.push(stateGauge(families, source, source.states.bind(source)));
    if (source.onStateChange !== undefined) {
      const transitionsName = `${families.prefix}${source.name}_transitions_total`;
      const transitions = families.register(transitionsName, () => new Counter({
        name: transitionsName, help: `State changes of each ${source.name}.`, labelNames: [...source.labelNames, 'from', 'to'], registers: [families.registry],
      }));
      names.push(transitionsName);
      unsubscribe = toDisposer(source.onStateChange((change: SourceStateChange) => {
        transitions.inc({ ...change.labels, from: change.from, to: change.to });
      }));
    }
  }
  if (source.values !== undefined) names.push(...valueGauges(families, source));
  // Scrapes read families in registration order: the error counter goes after every source's
  // gauges, so a failure shows in the very scrape it happened in.
  const registry = families.registry;
  const errors = errorsCounter(families);
  registry.removeSingleMetric(errorsName(families));
  registry.registerMetric(errors);
  const entry: Exported = { source, users: 1, unsubscribe, names };
  exported.set(source.name, entry);
  return once(() => release(families, exported, entry));
}

function release(families: MetricFamilies, exported: Map<string, Exported>, entry: Exported): void {
  if (--entry.users > 0) return;
  entry.unsubscribe?.();
  exported.delete(entry.source.name);
  for (const name of entry.names) families.registry.removeSingleMetric(name);
}
