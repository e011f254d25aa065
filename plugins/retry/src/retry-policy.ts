import type { Invocation, RetryPolicy, RpcError } from '@trellis/core';
import { newRecord, retryAttemptsKey, type MutableAttemptRecord } from './attempt-record.js';
import type { ClientRuntime, MethodRuntime } from './client-runtime.js';
import { hedges } from './retry-interceptor.js';
import { attemptInvocation, RetryCall, succeeded } from './retry-call.js';

/** One unary call's retry state while the kernel runs its attempts. */
class CallRetry {
  /** Built at the first failure: most calls never fail. */
  retry: RetryCall | undefined = undefined;

  constructor(
    readonly first: Invocation,
    readonly method: MethodRuntime,
    readonly startedAt: number,
    readonly records: MutableAttemptRecord[],
    /** The current attempt's record and invocation. */
    public record: MutableAttemptRecord,
    public invocation: Invocation,
  ) {}
}

/**
 * Retry for unary calls as the kernel's `RetryPolicy` (no promise layer): the kernel sends the
 * attempts, and on a failure `failed` runs the same decision as the interceptor form (`RetryCall`:
 * retryable, idempotent, attempts, deadline, endpoints left, budget, backoff). The first attempt costs
 * its record, the records array and this state object; a `RetryCall` is built at the first failure.
 * Every clock reading is the kernel's (the call's start, the attempt's end). Hedged calls take no part
 * here (the hedging interceptor runs them), nor do stream calls (the stream interceptor).
 */
export function retryPolicy(runtime: ClientRuntime): RetryPolicy<CallRetry> {
  return {
    startCall(invocation, now) {
      const method = runtime.method(invocation.method);
      // maxAttempts 1 is "retry off" for the method: no bookkeeping, no budget deposit.
      if (method === undefined || method.policy.maxAttempts === 1 || hedges(method, invocation)) return undefined;
      runtime.budget?.deposit(now);
      const records: MutableAttemptRecord[] = [];
      invocation.context.set(retryAttemptsKey, records);
      const record = newRecord(1, false, now, invocation.excluded);
      records.push(record);
      return new CallRetry(invocation, method, now, records, record, attemptInvocation(invocation, method, record, undefined));
    },
    attempt: (state) => state.invocation,
    succeeded(state, now) {
      succeeded(runtime, state.first, state.record, now);
    },
    failed(state, error: RpcError, now) {
      state.retry ??= new RetryCall(undefined, state.first, runtime, state.method, state.startedAt, state.records);
      return state.retry.failedAt(state.record, error, now);
    },
    resume(state, now, cancelled) {
      const next = state.retry!.resumeAt(now, cancelled);
      state.record = next.record;
      state.invocation = next.invocation;
    },
  };
}
