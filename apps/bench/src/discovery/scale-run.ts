import type { Disposable, Endpoint, InstanceInfo, Registry } from '@trellis/core';
import { percentileOfSorted } from '@trellis/core/toolkit';

export interface ScaleOptions {
  readonly services: number;
  readonly providersPerService: number;
  /** Registry clients on the provider side (each a "host" registering its share of instances). */
  readonly providerHosts: number;
  readonly consumers: number;
  /** Services each consumer subscribes to. */
  readonly servicesPerConsumer: number;
  readonly redeployFraction: number;
  readonly timeoutMs: number;
}

export interface ScaleResult {
  readonly registry: string;
  readonly instances: number;
  readonly subscriptions: number;
  /** From the first register() to the last one resolving. */
  readonly registerMs: number;
  /** From the first register() until every consumer saw complete lists. */
  readonly convergeMs: number;
  readonly redeployed: number;
  /** Per (consumer, change): ms from the change until that consumer saw it. */
  readonly propagationP50Ms: number;
  readonly propagationP99Ms: number;
  readonly propagationMaxMs: number;
  /** Notifications a subscription received during the redeploy (debouncing merges bursts). */
  readonly notificationsPerSubscription: { readonly mean: number; readonly max: number };
  readonly changesPerSubscription: number;
}

const serviceName = (i: number) => `bench.scale.Service${String(i).padStart(3, '0')}`;
const key = (name: string) => ({ group: 'default', name, version: '1.0.0' });
const instance = (port: number): InstanceInfo => ({
  host: '10.0.0.1', port, weight: 100, version: '1.0.0', tags: {}, protocol: 'trellis', startedAt: Date.now(),
});

/**
 * 1,000 providers (100 services × 10) registered through `providerHosts` registry clients; `consumers`
 * registry clients each subscribed to `servicesPerConsumer` services; then a rolling redeploy of 10 %
 * of the providers (each replaced by one on a new port). Addresses are fictitious: only the registry
 * is measured.
 */
export async function runScale(name: string, makeRegistry: () => Registry, options: ScaleOptions): Promise<ScaleResult> {
  const providers = Array.from({ length: options.providerHosts }, makeRegistry);
  const consumers = Array.from({ length: options.consumers }, makeRegistry);
  const subscriptions: Disposable[] = [];
  try {
    // Which instances each service has right now, and what every subscription last saw.
    const expected = new Map<string, Set<number>>();
    let nextPort = 20_000;
    const plan: { service: string; port: number; host: number }[] = [];
    for (let s = 0; s < options.services; s++) {
      expected.set(serviceName(s), new Set());
      for (let p = 0; p < options.providersPerService; p++) plan.push({ service: serviceName(s), port: nextPort++, host: plan.length % options.providerHosts });
    }
    interface Watch { service: string; seen: Set<number>; notifications: number; firstSeen: Map<number, number> }
    const watches: Watch[] = [];
    for (let c = 0; c < options.consumers; c++) {
      for (let k = 0; k < options.servicesPerConsumer; k++) {
        const service = serviceName((c * 7 + k * 13) % options.services);
        const watch: Watch = { service, seen: new Set(), notifications: 0, firstSeen: new Map() };
        watches.push(watch);
        subscriptions.push(consumers[c]!.subscribe({ group: 'default', name: service }, (list: readonly Endpoint[]) => {
          const now = performance.now();
          watch.notifications++;
          const ports = new Set(list.map((e) => e.port));
          for (const port of ports) if (!watch.seen.has(port) && !watch.firstSeen.has(port)) watch.firstSeen.set(port, now);
          for (const port of watch.seen) if (!ports.has(port) && !watch.firstSeen.has(-port)) watch.firstSeen.set(-port, now);
          watch.seen = ports;
        }));
      }
    }
    const converged = () => watches.every((w) => sameSet(w.seen, expected.get(w.service)!));
    const waitConverged = async (what: string) => {
      const until = performance.now() + options.timeoutMs;
      while (!converged()) {
        if (performance.now() > until) throw new Error(`${name}: consumers did not converge on ${what} within ${options.timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 5));
      }
    };

    const registerStart = performance.now();
    await Promise.all(plan.map(async (p) => {
      await providers[p.host]!.register(key(p.service), instance(p.port));
      expected.get(p.service)!.add(p.port);
    }));
    const registerMs = performance.now() - registerStart;
    await waitConverged('the initial registration');
    const convergeMs = performance.now() - registerStart;

    for (const w of watches) {
      w.notifications = 0;
      w.firstSeen.clear();
    }
    const victims = plan.filter((_, i) => i % Math.round(1 / options.redeployFraction) === 0);
    const changedAt = new Map<number, number>();
    await Promise.all(victims.map(async (v) => {
      const replacement = nextPort++;
      changedAt.set(-v.port, performance.now());
      await providers[v.host]!.deregister(key(v.service), instance(v.port));
      expected.get(v.service)!.delete(v.port);
      changedAt.set(replacement, performance.now());
      await providers[v.host]!.register(key(v.service), instance(replacement));
      expected.get(v.service)!.add(replacement);
    }));
    await waitConverged('the redeploy');

    const delays: number[] = [];
    for (const w of watches) {
      for (const [signedPort, at] of w.firstSeen) {
        const changed = changedAt.get(signedPort);
        if (changed !== undefined) delays.push(at - changed);
      }
    }
    delays.sort((a, b) => a - b);
    const pct = (p: number) => (delays.length === 0 ? 0 : percentileOfSorted(delays, p));
    const changed = new Set(victims.map((v) => v.service));
    const affected = watches.filter((w) => changed.has(w.service));
    const notes = affected.map((w) => w.notifications);
    const changesPer = affected.map((w) => [...changedAt.keys()].filter((p) => plan.some((x) => x.service === w.service && (x.port === -p))).length * 2);
    return {
      registry: name,
      instances: plan.length,
      subscriptions: watches.length,
      registerMs,
      convergeMs,
      redeployed: victims.length,
      propagationP50Ms: pct(0.5),
      propagationP99Ms: pct(0.99),
      propagationMaxMs: delays.at(-1) ?? 0,
      notificationsPerSubscription: { mean: notes.reduce((a, b) => a + b, 0) / Math.max(1, notes.length), max: Math.max(0, ...notes) },
      changesPerSubscription: changesPer.reduce((a, b) => a + b, 0) / Math.max(1, changesPer.length),
    };
  } finally {
    subscriptions.forEach((s) => s.dispose());
    await Promise.all([...providers, ...consumers].map((r) => r.close().catch(() => undefined)));
  }
}

function sameSet(a: ReadonlySet<number>, b: ReadonlySet<number>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}
