import { isFailure, type Attempt, type CallObserver } from '@trellis/core';

/** What one endpoint's attempts looked like, as `AttemptStats` summarises them. */
export interface EndpointStats {
  readonly attempts: number;
  /** Attempts that ended in a failure of the provider (`isFailure`: not an answer such as NOT_FOUND). */
  readonly failures: number;
  /** Mean duration of an attempt, ms. */
  readonly meanLatencyMs: number;
}

class Totals {
  attempts = 0;
  failures = 0;
  latencyMs = 0;
}

/**
 * Per-endpoint attempt statistics through the kernel's attempt-outcome hook: a `CallObserver` is
 * called synchronously once per attempt with the endpoint, outcome code, duration and bytes — no
 * interceptor layer, no promise. The kernel reuses the `Attempt` record, so only numbers are kept.
 */
export class AttemptStats implements CallObserver {
  private readonly byEndpoint = new Map<string, Totals>();

  attemptEnd(attempt: Attempt): void {
    let totals = this.byEndpoint.get(attempt.endpoint.id);
    if (totals === undefined) this.byEndpoint.set(attempt.endpoint.id, (totals = new Totals()));
    totals.attempts++;
    totals.latencyMs += attempt.latencyMs;
    if (attempt.error !== undefined && isFailure(attempt.error)) totals.failures++;
  }

  /** A snapshot, by endpoint id. */
  snapshot(): Record<string, EndpointStats> {
    const out: Record<string, EndpointStats> = {};
    for (const [id, t] of this.byEndpoint) out[id] = { attempts: t.attempts, failures: t.failures, meanLatencyMs: t.latencyMs / t.attempts };
    return out;
  }
}
