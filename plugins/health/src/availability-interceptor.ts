import { RpcError, type EndpointInterceptor } from '@trellis/core';
import type { HealthMonitor } from './health-monitor.js';

/**
 * Innermost of the endpoint interceptors: it sees what the transport returned for the endpoint the
 * balancer picked, before any other interceptor turns it into something else, and does not count
 * calls a breaker refused before sending.
 */
export const AVAILABILITY_INTERCEPTOR_ORDER = 10_000;

/** Feeds each attempt's outcome into its endpoint's availability window. */
export function availabilityInterceptor(monitor: HealthMonitor): EndpointInterceptor {
  return (next) => (invocation, endpoint) => {
    // An integer read instead of a clock read: was the loop stalled while this call ran?
    const epoch = monitor.stallEpoch;
    return next(invocation, endpoint).then(
      (result) => {
        monitor.recordOutcome(endpoint, undefined, epoch);
        return result;
      },
      (error: unknown) => {
        monitor.recordOutcome(endpoint, RpcError.from(error), epoch);
        throw error;
      },
    );
  };
}
