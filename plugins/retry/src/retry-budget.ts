import type { Clock } from '@trellis/core/spi';
import { SlidingWindowCounter } from '@trellis/core/toolkit';
import type { ResolvedBudget } from './options.js';

const SLOTS = 10;
/** Counter 0 counts calls (deposits), counter 1 retries spent. */
const SPENT = 1;

export interface BudgetSnapshot {
  /** Calls counted in the window. */
  readonly calls: number;
  /** Retries (or backups) spent in the window. */
  readonly spent: number;
  /** Retries the window allows in all: ratio × calls + minPerSecond × window seconds. */
  readonly allowed: number;
}

/**
 * A retry budget in Finagle's sense: every call deposits, every retry withdraws, and retries are
 * allowed only while `spent + 1 ≤ ratio × calls + minPerSecond × windowSeconds` over a sliding window.
 * During an outage retries therefore add at most `ratio` of the offered load (plus the floor),
 * instead of multiplying it by maxAttempts. The window is the toolkit's `SlidingWindowCounter` (ten
 * buckets, two counters: calls and retries spent), so the counts are O(1) to keep.
 */
export class RetryBudget {
  private readonly window: SlidingWindowCounter;
  private readonly floor: number;
  private readonly totals = [0, 0];

  constructor(readonly settings: ResolvedBudget, private readonly clock: Clock) {
    this.window = new SlidingWindowCounter({ windowMs: settings.windowMs, buckets: SLOTS, counters: 2, clock });
    this.floor = settings.minPerSecond * (settings.windowMs / 1000);
  }

  /** One call entered the client (`at`: a reading of the budget's clock the caller already has). */
  deposit(at = this.clock.now()): void {
    // record(), not add(CALLS, …): one call per call, without add's check of the counter index.
    this.window.record(at, 1);
  }

  /** Takes one retry from the budget; false when it is spent. */
  tryWithdraw(): boolean {
    const now = this.clock.now();
    const [calls, spent] = this.window.sums(now, this.totals);
    if (spent! + 1 > this.settings.ratio * calls! + this.floor) return false;
    this.window.add(SPENT, 1, now);
    return true;
  }

  snapshot(): BudgetSnapshot {
    const [calls, spent] = this.window.sums(this.clock.now(), this.totals);
    return { calls: calls!, spent: spent!, allowed: this.settings.ratio * calls! + this.floor };
  }
}
