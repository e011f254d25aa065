import type { Cell, FaultName, PluginSetName } from './cells.js';

/** Why a cell cannot be held to 99 % of calls answered. */
export interface Shortfall {
  /** The letter the table shows. */
  readonly id: string;
  readonly reason: string;
  readonly plugins: readonly PluginSetName[];
  readonly faults: readonly FaultName[];
}

/**
 * The documented shortfalls: plugin sets that, by design, cannot keep every call off a faulty
 * provider. Each applies to every balancer of its sets (LALB steers most calls away and often meets
 * the bar anyway; a letter next to a passing entry says the reason applies). Every other cell —
 * every set with retry and breaker among them — must meet 99 %, and the test fails if one does not.
 */
export const SHORTFALLS: readonly Shortfall[] = [
  {
    id: 'A',
    plugins: ['none'],
    faults: ['failing', 'frozen', 'dropping'],
    reason: 'No governance. The kernel routes around connections that are down, not around a provider that answers with errors, ' +
      'hangs or resets its connections mid-call; calls that land there fail. LALB alone shrinks the faulty provider\'s share to its ' +
      'probe floor, so its cells often meet the bar, but not reliably.',
  },
  {
    id: 'B',
    plugins: ['retry'],
    faults: ['frozen'],
    reason: 'Retry alone cannot help with a frozen provider: without `attemptTimeoutMs` (off by default) an attempt there uses the ' +
      'call\'s whole deadline, so no time is left to retry, and nothing takes the provider out. Issue-worthy: a default per-attempt ' +
      'timeout (a share of the deadline), or pairing retry with breaker or health, as the matrix shows.',
  },
  {
    id: 'C',
    plugins: ['retry'],
    faults: ['failing'],
    reason: 'The retry budget (10 % of calls + 10/s, Finagle\'s) is smaller than the 1/N of calls whose first attempt lands on a ' +
      'provider failing every call, by design: retries must not multiply the load of an outage. Retry needs breaker or health to ' +
      'take the provider out; LALB moves the first attempts away and usually meets the bar.',
  },
  {
    id: 'D',
    plugins: ['breaker', 'health'],
    faults: ['dropping'],
    reason: 'Without retry, the calls in flight on a connection the provider resets fail (`mayHaveRun: true`: only retry may re-send ' +
      'an idempotent call that may have run). Between resets the provider answers, below the breaker\'s trip points (5 failures in ' +
      'a row, 50 %) and health\'s (80 % availability), so it keeps its share.',
  },
  {
    id: 'E',
    plugins: ['breaker', 'health'],
    faults: ['failing', 'frozen'],
    reason: 'Without retry, the calls the faulty provider still gets fail: the breaker\'s half-open probes (one per cool-down, ' +
      '100 ms doubling to 30 s), the calls before health\'s availability window fills (20 calls of that provider; with LALB steering ' +
      'calls away that takes longer than the warm-up) and LALB\'s probe share. Over the short window after the fault they can reach 1 %.',
  },
];

export function shortfallFor(cell: Cell): Shortfall | undefined {
  return SHORTFALLS.find((s) => s.plugins.includes(cell.plugins) && s.faults.includes(cell.fault as never));
}
