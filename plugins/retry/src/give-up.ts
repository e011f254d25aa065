import { Code, RpcError } from '@trellis/core';
import type { RetryDecision } from './attempt-record.js';

const reasons = new WeakMap<RpcError, RetryDecision>();

/**
 * The error a caller gets when retry gave up on a retryable failure: the same code and `mayHaveRun`,
 * the original error as `cause`, and a note saying why no further attempt was made — so
 * "UNAVAILABLE … (not retried: Mutate is not idempotent …)" tells the whole story in one log line.
 */
export function giveUp(error: RpcError, reason: RetryDecision, note: string): RpcError {
  const wrapped = new RpcError(error.code, `${error.message} (${note})`, { mayHaveRun: error.mayHaveRun, metadata: error.metadata, cause: error, endpoint: error.endpoint });
  reasons.set(wrapped, reason);
  return wrapped;
}

/** DEADLINE_EXCEEDED for a call whose deadline passed between attempts. */
export function deadlineExceeded(last: RpcError, mayHaveRun: boolean, note: string): RpcError {
  const error = new RpcError(Code.DEADLINE_EXCEEDED, `${note}; last error: ${last.toString()}`, { mayHaveRun, cause: last, endpoint: last.endpoint });
  reasons.set(error, 'deadline');
  return error;
}

/** Records why retry stopped for an error it returns as it is (no note to add). */
export function stoppedWith(error: RpcError, reason: RetryDecision): RpcError {
  reasons.set(error, reason);
  return error;
}

/** Why retry stopped for an error it returned (undefined: it returned the error untouched). */
export function retryStopReason(error: unknown): RetryDecision | undefined {
  return error instanceof RpcError ? reasons.get(error) : undefined;
}
