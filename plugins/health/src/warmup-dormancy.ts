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
 * sets a ramp) — and puts it back to sleep when the last ramp ends.
 *
 * One timer does both jobs while a ramp runs (unref'd; cleared when the ramps end and on close): it
 * fires every WARMUP_REFRESH_MS to tick the router's refresh, and its last step is cut short to fire
 * just after the last ramp ends, where it puts the router to sleep.
 */
export class WarmupDormancy {
  private endpoints: readonly Endpoint[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Wall-clock ms the timer fires at (valid while `timer` is set). */
  private firesAt = 0;
  /** Wall-clock ms just after the latest ramp in progress ends; -1: none. */
  private until = -1;
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
    this.until = until < 0 ? -1 : until + 1;
    this.options.setActive(until >= 0);
    if (until < 0) {
      this.stop();
      return;
    }
    // A timer already running keeps its step (a stream of list or health changes must not starve the
    // ticks), unless the ramps now end before it fires.
    if (this.timer === undefined || this.firesAt > this.until) this.arm(now);
  }

  close(): void {
    this.until = -1;
    this.stop();
  }

  /** The next step: a tick's WARMUP_REFRESH_MS, or less when the last ramp ends sooner. */
  private arm(now: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.firesAt = Math.min(now + WARMUP_REFRESH_MS, this.until);
    this.timer = setTimeout(() => this.fired(), this.firesAt - now);
    // A client's process must not stay alive for a ramp.
    this.timer.unref();
  }

  private fired(): void {
    this.timer = undefined;
    const now = this.wallClock();
    // The last ramp is over: look again (asleep, or a ramp that began meanwhile keeps it awake).
    if (now >= this.until) return this.recheck();
    this.options.tick?.();
    this.arm(now);
  }

  private stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
