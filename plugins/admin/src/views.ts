import type { Inspection } from '@trellis/core';
import type { Target } from './targets.js';

/**
 * Turns a client's or server's `inspect()` into what the console shows: one row per endpoint with
 * everything known about it side by side (connection, health, balancer weight and share, breaker,
 * in-flight), whichever plugins supplied it. Plugins that are not installed leave their columns out.
 */
type Row = Record<string, unknown>;

function asArray(value: unknown): Row[] {
  return Array.isArray(value) ? (value as Row[]) : [];
}

function byKey(rows: Row[], key: string): Map<unknown, Row> {
  return new Map(rows.map((row) => [row[key], row]));
}

export function clientView(target: Extract<Target, { side: 'client' }>, inspection: Inspection): Row {
  const kernel = inspection.kernel as Row;
  const inspectors = inspection.inspectors as Row;
  const balancer = kernel.balancer as { name: string; snapshot?: unknown } | undefined;
  const weights = byKey(asArray(balancer?.snapshot), 'id');
  const health = byKey(asArray(inspectors['@trellis/health']), 'endpoint');
  const circuits = asArray(inspectors['@trellis/breaker']);
  const endpointCircuits = byKey(circuits.filter((c) => c.kind === 'endpoint'), 'key');
  const metrics = inspectors['@trellis/metrics'] as { inflight?: Record<string, number> } | undefined;
  const endpoints = asArray(kernel.endpoints).map((endpoint) => {
    const id = endpoint.id;
    const h = health.get(id);
    const w = weights.get(id);
    const c = endpointCircuits.get(id);
    const availability = h?.availability as { calls: number; successes: number } | undefined;
    return {
      ...endpoint,
      healthReason: h?.reason,
      heartbeatFailures: h?.heartbeatFailures,
      lastRttMs: h?.lastRttMs,
      availability: availability === undefined || availability.calls === 0 ? undefined : availability.successes / availability.calls,
      availabilityCalls: availability?.calls,
      lalbWeight: w?.weight,
      share: w?.share,
      avgLatencyMs: w?.avgLatencyMs,
      inflight: (w?.inflight as number | undefined) ?? metrics?.inflight?.[id as string],
      breaker: c === undefined ? undefined : { state: c.state, calls: c.calls, failures: c.failures, halfOpenInMs: c.halfOpenInMs },
    };
  });
  const retry = inspectors['@trellis/retry'] as { budget?: unknown } | undefined;
  const tracing = inspectors['@trellis/tracing'] as { recent?: unknown[] } | undefined;
  return {
    id: target.id,
    side: 'client',
    service: kernel.service,
    registry: kernel.registry,
    started: kernel.started,
    plugins: inspection.plugins,
    balancer: balancer?.name,
    methods: kernel.methods,
    endpoints,
    methodBreakers: circuits.filter((c) => c.kind === 'method').map((c) => ({ method: c.key, state: c.state, calls: c.calls, failures: c.failures, halfOpenInMs: c.halfOpenInMs })),
    retryBudget: retry?.budget,
    /** The last sampled calls with their attempts, newest first, when the tracing plugin runs. */
    traces: tracing?.recent,
    rules: rulesInForce(inspectors),
  };
}

/** The rule documents in force (routes sections, documents owned whole such as breaker or limits), from @trellis/rules' read-outs. */
function rulesInForce(inspectors: Row): unknown[] {
  return Object.entries(inspectors).filter(([name]) => name.startsWith('@trellis/rules/')).map(([, value]) => value);
}

export function serverView(target: Extract<Target, { side: 'server' }>, inspection: Inspection): Row {
  const kernel = inspection.kernel as Row;
  const inspectors = inspection.inspectors as Row;
  return {
    id: target.id,
    side: 'server',
    plugins: inspection.plugins,
    state: kernel.state,
    serving: kernel.serving,
    address: kernel.port === undefined ? undefined : `${kernel.host as string}:${kernel.port as number}`,
    connections: kernel.connections,
    registry: kernel.registry,
    services: kernel.services,
    workers: kernel.workers,
    limiter: asArray(inspectors['@trellis/breaker/limiter']),
    rules: rulesInForce(inspectors),
    health: inspectors['@trellis/health'],
  };
}

export function targetView(target: Target): Row {
  return target.side === 'client' ? clientView(target, target.context.inspect()) : serverView(target, target.context.inspect());
}
