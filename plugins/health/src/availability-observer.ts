import type { Attempt, CallObserver } from '@trellis/core';
import type { HealthMonitor } from './health-monitor.js';

/**
 * Feeds each send's outcome into its endpoint's availability window: a call observer, so it sees
 * what the endpoint returned (the kernel reports every send, transparent re-sends included) without
 * an interceptor layer or a promise per call.
 */
export function availabilityObserver(monitor: HealthMonitor): CallObserver {
  return {
    attemptEnd(attempt: Attempt) {
      // The monitor runs on the client's clock, the one the kernel timed the attempt on.
      monitor.recordOutcome(attempt.endpoint, attempt.error, attempt.latencyMs, attempt.startedAt + attempt.latencyMs);
    },
  };
}
