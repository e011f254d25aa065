import type { Invocation, RetryPolicy, RpcError } from '@trellis/core';
import { retryAttemptsKey } from './attempt-record.js';
import { CallRetry, callRetryKey, policyRuns } from './call-retry.js';
import type { ClientRuntime } from './client-runtime.js';
import { attemptInvocation, RetryCall, succeeded } from './retry-call.js';

/**
 * Retry for unary calls as the kernel's `RetryPolicy` (no promise layer): the kernel sends the
 * attempts, and on a failure `failed` runs the same decision as the interceptor form (`RetryCall`:
 * retryable, idempotent, attempts, deadline, endpoints left, budget, backoff).
 *
 * A call that answers at its first attempt allocates nothing here: the policy's state is the call's
 * own invocation, and retry's per-call state (`CallRetry`, in the call's context), the attempt
 * history (`retryAttemptsKey`) and the `RetryCall` are made at the first failure — most calls never
 * fail. With an `onAttempt` listener (which hears of every attempt) or `attemptTimeoutMs` (the first
 * attempt gets its own deadline) they are made at once. Every clock reading is the kernel's (the
 * call's start, the attempt's end). Hedged calls take no part here (the hedging interceptor runs
 * them), nor do stream calls (the stream interceptor).
 */
export function retryPolicy(runtime: ClientRuntime): RetryPolicy<Invocation> {
  return {
    startCall(invocation, now) {
      const method = policyRuns(runtime, invocation);
      if (method === undefined) return undefined;
      runtime.budget?.deposit(now);
      if (runtime.options.onAttempt !== undefined || method.policy.attemptTimeoutMs !== undefined) {
        const state = CallRetry.of(invocation, method, now);
        state.invocation = attemptInvocation(invocation, method, state.history()[0]!, undefined);
      }
      return invocation;
    },
    attempt: (first) => first.context.get(callRetryKey)?.invocation ?? first,
    succeeded(first, now) {
      const record = first.context.get(callRetryKey)?.record;
      if (record !== undefined) succeeded(runtime, first, record, now);
    },
    failed(first, error: RpcError, now) {
      // The first failure: the first attempt's start is its failed send's (recordEndpoint noted it),
      // or, refused before any send, this reading (a refusal comes in the call's own turn).
      const state = first.context.get(callRetryKey)
        ?? CallRetry.of(first, policyRuns(runtime, first)!, first.context.get(retryAttemptsKey)[0]?.startedAt ?? now);
      const records = state.history();
      state.retry ??= new RetryCall(undefined, first, runtime, state.method, state.startedAt, records);
      return state.retry.failedAt(state.record!, error, now);
    },
    resume(first, now, cancelled) {
      const state = first.context.get(callRetryKey)!;
      const next = state.retry!.resumeAt(now, cancelled);
      state.record = next.record;
      state.invocation = next.invocation;
    },
  };
}
