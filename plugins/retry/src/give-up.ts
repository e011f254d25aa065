import { Code, RpcError, type RpcErrorOptions } from '@trellis/core';
import type { RetryDecision } from './attempt-record.js';

/**
 * The error a caller gets when retry stopped on a failure: the same code, `mayHaveRun`, trailers and
 * endpoint as the failure, the failure itself as `cause`, and `stopReason` saying why no further
 * attempt was made. The reason travels on the error itself (no side table to look it up in).
 */
export class RetryStoppedError extends RpcError {
  readonly stopReason: RetryDecision;
  constructor(code: Code, message: string, stopReason: RetryDecision, options: RpcErrorOptions) {
    super(code, message, options);
    this.stopReason = stopReason;
  }
}

function stopped(error: RpcError, message: string, reason: RetryDecision): RetryStoppedError {
  return new RetryStoppedError(error.code, message, reason, { mayHaveRun: error.mayHaveRun, metadata: error.metadata, cause: error, endpoint: error.endpoint });
}

/**
 * Gave up on a retryable failure, with a note saying why — so "UNAVAILABLE … (not retried: Mutate is
 * not idempotent …)" tells the whole story in one log line.
 */
export function giveUp(error: RpcError, reason: RetryDecision, note: string): RpcError {
  return stopped(error, `${error.message} (${note})`, reason);
}

/** DEADLINE_EXCEEDED for a call whose deadline passed between attempts. */
export function deadlineExceeded(last: RpcError, mayHaveRun: boolean, note: string): RpcError {
  return new RetryStoppedError(Code.DEADLINE_EXCEEDED, `${note}; last error: ${last.toString()}`, 'deadline', { mayHaveRun, cause: last, endpoint: last.endpoint });
}

/** Stopped with no note to add: the failure's own code and message, the reason on the error. */
export function stoppedWith(error: RpcError, reason: RetryDecision): RpcError {
  return stopped(error, error.message, reason);
}

/** Why retry stopped for an error it returned (undefined: it returned the error untouched). */
export function retryStopReason(error: unknown): RetryDecision | undefined {
  return error instanceof RetryStoppedError ? error.stopReason : undefined;
}
