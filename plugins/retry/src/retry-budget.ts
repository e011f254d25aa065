import type { Clock } from '@trellis/core/spi';
import type { ResolvedBudget } from './options.js';

const SLOTS = 10;

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
 * instead of multiplying it by maxAttempts. The window is ten slots, so the counts are O(1) to keep.
 */
export class RetryBudget {
  private readonly calls = new Float64Array(SLOTS);
  private readonly spentBySlot = new Float64Array(SLOTS);
  private readonly slotMs: number;
  private readonly floor: number;
  private slot = 0;
  private slotEnd: number;
  private totalCalls = 0;
  private totalSpent = 0;

  constructor(readonly settings: ResolvedBudget, private readonly clock: Clock) {
    this.slotMs = settings.windowMs / SLOTS;
    this.floor = settings.minPerSecond * (settings.windowMs / 1000);
    this.slotEnd = clock.now() + this.slotMs;
  }

  /** One call entered the client. */
  deposit(): void {
    this.advance();
    this.calls[this.slot]!++;
    this.totalCalls++;
  }

  /** Takes one retry from the budget; false when it is spent. */
  tryWithdraw(): boolean {
    this.advance();
    if (this.totalSpent + 1 > this.settings.ratio * this.totalCalls + this.floor) return false;
    this.spentBySlot[this.slot]!++;
    this.totalSpent++;
    return true;
  }

  snapshot(): BudgetSnapshot {
    this.advance();
    return { calls: this.totalCalls, spent: this.totalSpent, allowed: this.settings.ratio * this.totalCalls + this.floor };
  }

  /** Expires the slots that fell out of the window since the last look. */
  private advance(): void {
    const now = this.clock.now();
    if (now < this.slotEnd) return;
    const steps = Math.floor((now - this.slotEnd) / this.slotMs) + 1;
    // After a whole window of silence every slot is stale: clear each once, not slot by slot.
    for (let i = Math.min(SLOTS, steps); i > 0; i--) {
      this.slot = (this.slot + 1) % SLOTS;
      this.totalCalls -= this.calls[this.slot]!;
      this.totalSpent -= this.spentBySlot[this.slot]!;
      this.calls[this.slot] = 0;
      this.spentBySlot[this.slot] = 0;
    }
    this.slotEnd += steps * this.slotMs;
  }
}
