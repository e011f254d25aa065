import type { Endpoint } from '@trellis/core';
import { WARMUP_REFRESH_MS, type WarmupRouterOptions } from './warmup.js';

/** The warm-up router's own ramp settings (the same object), and its switch. */
export interface WarmupDormancyOptions extends Pick<WarmupRouterOptions, 'warmupMs' | 'rampStart' | 'wallClock'> {
  /** The warm-up router's switch (`ClientPluginContext.setHookActive`). */
  readonly setActive: (active: boolean) => void;
  /**
   * Called every WARMUP_REFRESH_MS while a ramp runs (the warm-up router's `expire`): the ramp's
   * weights move on this tick, so a call reads no clock to find out whether they are due.
   */
  readonly tick?: () => void;
}

/**
 * Keeps the warm-up router on the call path only while some discovered endpoint ramps (started, or
 * came back, less than `warmupMs` ago). Judged on the whole discovered list, not on what the routers
 * before it leave: when nothing in it ramps, no subset does, whatever rule narrows it later. It wakes
 * the router on what can start a ramp — a new list (`update`), a health change (`recheck`: a recovery
 * sets a ramp) — and puts it back to sleep with a timer when the last ramp ends. While awake, a
 * periodic timer (unref'd, cleared when the ramps end or on close) ticks the router's refresh.
 */
export class WarmupDormancy {
  private endpoints: readonly Endpoint[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private ticker: ReturnType<typeof setInterval> | undefined;
  private readonly wallClock: () => number;

  constructor(private readonly options: WarmupDormancyOptions) {
    this.wallClock = options.wallClock ?? Date.now;
  }

  /** The directory's list changed. */
  update(endpoints: readonly Endpoint[]): void {
    this.endpoints = endpoints;
    this.recheck();
  }

  /** Something that can start a ramp changed (an endpoint's health): look again. */
  recheck(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const now = this.wallClock();
    const { warmupMs, rampStart } = this.options;
    // The latest end of a ramp in progress; -1: none.
    let until = -1;
    for (const endpoint of this.endpoints) {
      const from = rampStart(endpoint);
      if (!(from > 0)) continue;
      // (A start in the future, clock skew, ramps until `warmupMs` after it, as warmupWeight counts.)
      const end = from + warmupMs;
      if (end > now && end > until) until = end;
    }
    this.options.setActive(until >= 0);
    this.setTicking(until >= 0);
    if (until >= 0) {
      // Once the last ramp is over the router would hand every list back unchanged: asleep then.
      this.timer = setTimeout(() => this.recheck(), until - now + 1);
      this.timer.unref();
    }
  }

  close(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.setTicking(false);
  }

  private setTicking(on: boolean): void {
    const tick = this.options.tick;
    if (on && this.ticker === undefined && tick !== undefined) {
      this.ticker = setInterval(tick, WARMUP_REFRESH_MS);
      // A client's process must not stay alive for a ramp's refresh.
      this.ticker.unref();
    } else if (!on && this.ticker !== undefined) {
      clearInterval(this.ticker);
      this.ticker = undefined;
    }
  }
}
