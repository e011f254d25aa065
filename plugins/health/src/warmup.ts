import type { Endpoint, Invocation, Router } from '@trellis/core';
import { RouterOrder } from '@trellis/core/spi';
import { invalidOption } from '@trellis/core/toolkit';

/**
 * How often a list with an endpoint still ramping is recomputed (balancers rebuild per list): the
 * step of the timer that marks the router's list stale (`expire`) while a ramp runs — the router's
 * own, or in the health plugin WarmupDormancy's.
 */
export const WARMUP_REFRESH_MS = 250;

/**
 * Dubbo's warm-up weight: `weight × uptime / warmup`, at least 1 while ramping, the full weight once
 * `warmupMs` has passed. A weight of 0 stays 0 (the provider asked for no traffic). A start time in the
 * future (clock skew between hosts) counts as just started.
 */
export function warmupWeight(weight: number, uptimeMs: number, warmupMs: number): number {
  if (!(weight > 0)) return weight;
  if (uptimeMs >= warmupMs) return weight;
  if (uptimeMs <= 0) return 1;
  return Math.max(1, Math.min(weight, Math.floor((weight * uptimeMs) / warmupMs)));
}

export interface WarmupRouterOptions {
  readonly warmupMs: number;
  /** Wall-clock ms the ramp of an endpoint runs from (its `startedAt`, or a later recovery); 0 = none. */
  readonly rampStart: (endpoint: Endpoint) => number;
  /** Changes whenever `rampStart` may have changed (the health view's version). */
  readonly version: () => number;
  /** Wall-clock ms, to compare with registry start times (default Date.now). */
  readonly wallClock?: () => number;
  /**
   * What moves the ramp weights on. `'timer'` (default): the router's own one-shot timer, armed when
   * it computes a list in which something ramps and firing WARMUP_REFRESH_MS later (unref'd; none
   * while nothing ramps or no call comes), so a hand-built router needs nothing else. `'expire'`: the
   * owner calls `expire()` on a timer of its own — the health plugin does, from the one timer that
   * also puts the router to sleep when the ramps end.
   */
  readonly refresh?: 'timer' | 'expire';
}

/**
 * Lowers the weight of providers that started (or came back) less than `warmupMs` ago, so a cold
 * process is not flooded at once. Runs right after the health filter. Weight-aware balancers
 * (`random`, LALB) follow the ramp; round-robin ignores weights by design.
 *
 * The output keeps its identity between refreshes, and is the input itself once nothing ramps, so
 * a steady list costs two comparisons per call. While something ramps, the weights move when a
 * timer says so (every WARMUP_REFRESH_MS: the router's own, or its owner's calling `expire`; see
 * `refresh`), not by a clock read on every call.
 */
export class WarmupRouter implements Router {
  readonly name = 'warmup';
  readonly order = RouterOrder.HEALTH + 1;
  private lastInput: readonly Endpoint[] | undefined;
  private lastOutput: readonly Endpoint[] = [];
  private lastVersion = -1;
  /** Set by `expire` (the ramp's timer): the next call recomputes the ramp weights. */
  private stale = false;
  private readonly wallClock: () => number;
  /** Whether the router arms its own refresh timer (`refresh: 'timer'`). */
  private readonly ownTimer: boolean;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly options: WarmupRouterOptions) {
    const refresh = options.refresh ?? 'timer';
    if (refresh !== 'timer' && refresh !== 'expire') throw invalidOption('refresh', refresh, "'timer' or 'expire'", 'WarmupRouter');
    this.ownTimer = refresh === 'timer';
    this.wallClock = options.wallClock ?? Date.now;
  }

  route(list: readonly Endpoint[], _invocation: Invocation): readonly Endpoint[] {
    if (list === this.lastInput && !this.stale && this.options.version() === this.lastVersion) return this.lastOutput;
    return this.recompute(list);
  }

  /** The ramp moved on (a timer's tick): the next call recomputes the weights from the wall clock. */
  expire(): void {
    this.stale = true;
  }

  private recompute(list: readonly Endpoint[]): readonly Endpoint[] {
    const now = this.wallClock();
    const { warmupMs, rampStart } = this.options;
    let output: Endpoint[] | undefined;
    for (let i = 0; i < list.length; i++) {
      const endpoint = list[i]!;
      const from = rampStart(endpoint);
      if (!(from > 0)) continue;
      const weight = warmupWeight(endpoint.weight, now - from, warmupMs);
      if (weight === endpoint.weight) continue;
      output ??= list.slice();
      output[i] = { ...endpoint, weight };
    }
    let result: readonly Endpoint[] = output === undefined ? list : output;
    // Same weights as last time: hand back the old array so balancers keep their per-list state.
    if (output !== undefined && list === this.lastInput && sameWeights(output, this.lastOutput)) result = this.lastOutput;
    this.lastInput = list;
    this.lastOutput = result;
    this.lastVersion = this.options.version();
    this.stale = false;
    // Something ramps: the weights must move on. One pending timer at most, none once nothing ramps.
    if (output !== undefined && this.ownTimer && this.refreshTimer === undefined) {
      this.refreshTimer = setTimeout(() => {
        this.refreshTimer = undefined;
        this.stale = true;
      }, WARMUP_REFRESH_MS);
      // Nothing to close: it fires once, sets a flag, and must not keep the process alive.
      this.refreshTimer.unref();
    }
    return result;
  }
}

function sameWeights(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i]!.id !== b[i]!.id || a[i]!.weight !== b[i]!.weight) return false;
  return true;
}
