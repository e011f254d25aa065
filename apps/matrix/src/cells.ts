import type { ProviderFault } from '@trellis/testkit';

export const BALANCERS = ['round-robin', 'random', 'lalb'] as const;
export type BalancerName = (typeof BALANCERS)[number];

/** Governance plugin sets, every plugin with its default options. */
export const PLUGIN_SETS = ['none', 'retry', 'breaker', 'health', 'retry+breaker', 'retry+breaker+health'] as const;
export type PluginSetName = (typeof PLUGIN_SETS)[number];

/** One provider misbehaves from the fault switch on; the others stay healthy. */
export const FAULTS = ['failing', 'business', 'slow', 'frozen', 'dropping'] as const satisfies readonly ProviderFault[];
export type FaultName = (typeof FAULTS)[number];

export const PROVIDER_COUNTS = [2, 3] as const;

export interface Cell {
  readonly balancer: BalancerName;
  readonly plugins: PluginSetName;
  readonly fault: FaultName;
  readonly providers: number;
}

export const FAULT_LABELS: Record<FaultName, string> = {
  failing: 'failing every call',
  business: 'NOT_FOUND 10 %',
  slow: '10× slower',
  frozen: 'frozen',
  dropping: 'dropping connections',
};

/**
 * How long after the fault starts calls are not judged, per fault — the same for every balancer and
 * plugin set, so no combination buys itself a longer grace period. It is what the governance needs to
 * notice the fault:
 * - a provider that fails every call or drops its connections: calls (breaker trips after 5 failures
 *   in a row; health's availability after 20 calls under 80 %);
 * - a frozen one: time, since its calls only fail as they time out (300 ms). The breaker opens after
 *   two rounds of timeouts; health's availability needs 20 of them, five rounds for four callers.
 *   2 s also lets the breaker's cool-down grow (100 ms doubling) until at most one half-open
 *   episode falls in the judged window: its probes are calls that can only time out, since each one
 *   uses the call's whole deadline.
 */
export interface Warmup {
  /** Calls started since the fault began. */
  readonly calls: number;
  /** Time since the fault began. */
  readonly ms: number;
}

export const WARMUP: Record<FaultName, Warmup> = {
  failing: { calls: 100, ms: 0 },
  business: { calls: 0, ms: 0 },
  slow: { calls: 0, ms: 0 },
  frozen: { calls: 0, ms: 2000 },
  dropping: { calls: 200, ms: 0 },
};

export function describeWarmup(warmup: Warmup): string {
  const parts = [];
  if (warmup.calls > 0) parts.push(`${warmup.calls} calls`);
  if (warmup.ms > 0) parts.push(`${warmup.ms} ms`);
  return parts.length === 0 ? 'none' : parts.join(' and ');
}

export function allCells(): Cell[] {
  const cells: Cell[] = [];
  for (const providers of PROVIDER_COUNTS) {
    for (const fault of FAULTS) {
      for (const plugins of PLUGIN_SETS) {
        for (const balancer of BALANCERS) cells.push({ balancer, plugins, fault, providers });
      }
    }
  }
  return cells;
}

export function cellName(cell: Cell): string {
  return `${cell.balancer} + ${cell.plugins} / ${cell.fault} / ${cell.providers} providers`;
}
