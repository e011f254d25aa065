import type { WorkerInspection } from '@trellis/core';
import type { MethodTotals } from './series.js';

/**
 * The console's view of a worker group (`RpcServer({ workers })`), built in the primary from each
 * worker's `inspect()` as it answered over the cluster channel: one row per worker (slot, pid,
 * state, uptime, restarts, connections, in flight) with its own detail, and the group's figures —
 * what the workers provide, summed (calls by code, latency buckets, in flight per method).
 */
type Row = Record<string, unknown>;

interface WorkerFigures {
  readonly connections?: number;
  readonly inflight?: number;
  readonly services: readonly Row[];
  /** The metrics plugin's per-method totals in this worker, when it runs there. */
  readonly methods?: Record<string, MethodTotals>;
  readonly methodInflight?: Record<string, number>;
}

function figuresOf(inspection: unknown): WorkerFigures | undefined {
  if (typeof inspection !== 'object' || inspection === null) return undefined;
  const { kernel, inspectors } = inspection as { kernel?: Row; inspectors?: Row };
  const metrics = inspectors?.['@trellis/metrics'] as { methods?: Record<string, MethodTotals>; inflight?: Record<string, number> } | undefined;
  return {
    connections: kernel?.connections as number | undefined,
    inflight: kernel?.inflight as number | undefined,
    services: Array.isArray(kernel?.services) ? (kernel!.services as Row[]) : [],
    methods: metrics?.methods,
    methodInflight: metrics?.inflight,
  };
}

/** Adds `b` into `a` (same histogram bounds: the workers run the same plugin options). */
function addTotals(a: MethodTotals | undefined, b: MethodTotals): MethodTotals {
  if (a === undefined) return { calls: { ...b.calls }, latency: { ...b.latency, counts: [...b.latency.counts] } };
  const calls: Record<string, number> = { ...a.calls };
  for (const [code, n] of Object.entries(b.calls)) calls[code] = (calls[code] ?? 0) + n;
  const counts = a.latency.counts.map((n, i) => n + (b.latency.counts[i] ?? 0));
  return { calls, latency: { bounds: a.latency.bounds, counts, count: a.latency.count + b.latency.count, sum: a.latency.sum + b.latency.sum } };
}

const sumOf = (values: (number | undefined)[]): number | undefined =>
  values.some((v) => v !== undefined) ? values.reduce<number>((s, v) => s + (v ?? 0), 0) : undefined;

export function workersView(workers: readonly WorkerInspection[], now = Date.now()): Row {
  const rows = workers.map((worker) => {
    const figures = figuresOf(worker.inspection);
    return {
      worker: {
        slot: worker.slot, id: worker.id, pid: worker.pid, state: worker.state, restarts: worker.restarts,
        startedAt: new Date(worker.startedAt).toISOString(), uptimeSeconds: Math.max(0, Math.round((now - worker.startedAt) / 1000)),
        connections: figures?.connections, inflight: figures?.inflight, error: worker.error,
      },
      figures,
      /** The worker's whole `inspect()`, for the per-worker detail. */
      inspection: worker.inspection,
    };
  });
  const methods: Record<string, MethodTotals> = {};
  const methodInflight: Record<string, number> = {};
  const services = new Map<string, Row & { openStreams: number }>();
  for (const { figures } of rows) {
    if (figures === undefined) continue;
    for (const [name, totals] of Object.entries(figures.methods ?? {})) methods[name] = addTotals(methods[name], totals);
    for (const [name, n] of Object.entries(figures.methodInflight ?? {})) methodInflight[name] = (methodInflight[name] ?? 0) + n;
    for (const service of figures.services) {
      const key = `${String(service.group)}/${String(service.name)}:${String(service.version)}`;
      const seen = services.get(key);
      if (seen === undefined) services.set(key, { ...service, openStreams: Number(service.openStreams ?? 0) });
      else seen.openStreams += Number(service.openStreams ?? 0);
    }
  }
  const answered = rows.filter((r) => r.figures !== undefined);
  return {
    workers: rows.map((r) => r.worker),
    group: {
      workers: workers.length,
      answered: answered.length,
      ready: workers.filter((w) => w.state === 'ready').length,
      restarts: workers.reduce((s, w) => s + w.restarts, 0),
      connections: sumOf(answered.map((r) => r.figures!.connections)),
      inflight: sumOf(answered.map((r) => r.figures!.inflight)),
      services: [...services.values()],
      /** Summed over the workers that answered; each worker's own are in `detail`. */
      methods,
      methodInflight,
    },
    detail: rows.map((r) => ({ slot: r.worker.slot, pid: r.worker.pid, methods: r.figures?.methods, methodInflight: r.figures?.methodInflight, inspection: r.inspection })),
  };
}
