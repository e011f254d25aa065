/**
 * A token bucket: refills `qps` tokens per second continuously, holds at most `burst`. One token per
 * call. Refilling on demand (from the elapsed time) needs no timer, and the long-run accepted rate is
 * exactly `qps` whatever the arrival pattern, plus at most `burst` at the start.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly perMs: number;

  constructor(readonly qps: number, readonly burst: number, now: number) {
    this.perMs = qps / 1000;
    this.tokens = burst;
    this.last = now;
  }

  tryTake(now: number): boolean {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + (now - this.last) * this.perMs);
      this.last = now;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Gives back a token taken by a call that a later check rejected: that call did not run. */
  refund(): void {
    this.tokens = Math.min(this.burst, this.tokens + 1);
  }

  /** Full and idle: forgetting it loses nothing, since a new bucket starts full. */
  isFull(now: number): boolean {
    return this.tokens + (now - this.last) * this.perMs >= this.burst;
  }

  available(now: number): number {
    return Math.min(this.burst, this.tokens + Math.max(0, now - this.last) * this.perMs);
  }
}
