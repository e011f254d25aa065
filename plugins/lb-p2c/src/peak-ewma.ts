/**
 * The load estimate of one endpoint: Finagle's and Linkerd's peak-EWMA. `latencyMs` is a moving
 * average of the round-trip times observed, sensitive to peaks: a slower answer than the estimate
 * replaces it at once, a faster one moves it only by the weight its age gives it. Between answers it
 * decays towards zero with time constant `decayMs`, so an endpoint that answered slowly long ago
 * gets tried again. The cost of sending it one more call is `latencyMs × (inFlight + 1)`.
 *
 * The decay is over time, not over a number of samples: observations arrive unevenly (the
 * busiest endpoint answers most often), so each one is weighted by the time since the last.
 */
export class PeakEwma {
  /** The estimate, ms; 0 = nothing observed yet. */
  private estimate: number;
  /** When `estimate` was last brought up to date (ms on the balancer's clock). */
  private stamp: number;
  /** Calls picked for this endpoint that have not ended. */
  inFlight = 0;

  constructor(
    private readonly decayMs: number,
    nowMs: number,
    /** Where the estimate starts: 0 (unknown) or a penalty (see P2cBalancer's warm-up). */
    initialMs = 0,
  ) {
    this.estimate = initialMs;
    this.stamp = nowMs;
  }

  /** The estimate decayed to `nowMs` (ms), without the in-flight factor. */
  latencyMs(nowMs: number): number {
    this.observe(nowMs, 0);
    return this.estimate;
  }

  /**
   * What one more call would cost here: latency × (in flight + 1). Nothing observed yet and a call
   * already out: PENALTY (+ the calls out, so the least busy of several unknown endpoints wins), so
   * an endpoint nobody has timed gets one probe at a time until it answers (Finagle's rule).
   */
  cost(nowMs: number): number {
    this.observe(nowMs, 0);
    if (this.estimate === 0 && this.inFlight !== 0) return PENALTY + this.inFlight;
    return this.estimate * (this.inFlight + 1);
  }

  /**
   * One round trip of `rttMs` ended at `nowMs` (rtt 0: only bring the decay up to date). The weight
   * of the old estimate is exp(−Δt / decay), Δt being the time since the last update.
   */
  observe(nowMs: number, rttMs: number): void {
    const elapsed = nowMs > this.stamp ? nowMs - this.stamp : 0;
    this.stamp = nowMs;
    if (rttMs > this.estimate) {
      this.estimate = rttMs;
      return;
    }
    if (elapsed === 0) return;
    const keep = Math.exp(-elapsed / this.decayMs);
    this.estimate = this.estimate * keep + rttMs * (1 - keep);
  }
}

/**
 * Finagle's penalty for an endpoint with a call out and no history (Long.MaxValue >> 16 ns there;
 * here ms, large enough that no measured cost comes near it, small enough to add in-flight counts to).
 */
export const PENALTY = 2 ** 40;
