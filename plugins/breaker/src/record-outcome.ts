import { RpcError, type Result } from '@trellis/core';
import type { Clock } from '@trellis/core/spi';
import type { Circuit, Permit } from './circuit.js';
import { classify, Outcome } from './failure-codes.js';

/**
 * Feeds a call's outcome to its circuit and passes the result or error through unchanged. Shared by
 * the endpoint and the method breaker. The clock is read again only when the circuit judges slow calls.
 */
export function recordOutcome(
  call: Promise<Result>,
  circuit: Circuit,
  permit: Permit,
  started: number,
  clock: Clock,
  isFailure: Parameters<typeof classify>[1],
): Promise<Result> {
  return call.then(
    (result) => {
      if (circuit.measuresLatency) {
        const now = clock.now();
        circuit.onResult(now, permit, Outcome.SUCCESS, now - started);
      } else {
        circuit.onResult(started, permit, Outcome.SUCCESS, 0);
      }
      return result;
    },
    (error: unknown) => {
      const now = clock.now();
      circuit.onResult(now, permit, classify(RpcError.from(error), isFailure), now - started);
      throw error;
    },
  );
}
