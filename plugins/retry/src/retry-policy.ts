import type { RetryPolicy, RpcError } from '@trellis/core';
import { CallRetry, callRetryKey } from './call-retry.js';
import type { ClientRuntime } from './client-runtime.js';
import { hedges } from './retry-interceptor.js';
import { attemptInvocation, RetryCall, succeeded } from './retry-call.js';

/**
 * Retry for unary calls as the kernel's `RetryPolicy` (no promise layer): the kernel sends the
 * attempts, and on a failure `failed` runs the same decision as the interceptor form (`RetryCall`:
 * retryable, idempotent, attempts, deadline, endpoints left, budget, backoff). A call that answers at
 * its first attempt costs one small `CallRetry` and nothing else: the attempt history
 * (`retryAttemptsKey`) and the `RetryCall` are made at the first failure — most calls never fail.
 * With an `onAttempt` listener (or `attemptTimeoutMs`, whose first attempt has its own deadline) the
 * history is made at once, since the listener hears of every attempt. Every clock reading is the
 * kernel's (the call's start, the attempt's end). Hedged calls take no part here (the hedging
 * interceptor runs them), nor do stream calls (the stream interceptor).
 */
export function retryPolicy(runtime: ClientRuntime): RetryPolicy<CallRetry> {
  return {
    startCall(invocation, now) {
      const method = runtime.method(invocation.method);
      // maxAttempts 1 is "retry off" for the method: no bookkeeping, no budget deposit.
      if (method === undefined || method.policy.maxAttempts === 1 || hedges(method, invocation)) return undefined;
      runtime.budget?.deposit(now);
      const state = new CallRetry(invocation, method, now);
      // The kernel's attempt observer (recordEndpoint) finds the state here when a send fails.
      invocation.context.set(callRetryKey, state);
      if (runtime.options.onAttempt !== undefined || method.policy.attemptTimeoutMs !== undefined) {
        state.invocation = attemptInvocation(invocation, method, state.history()[0]!, undefined);
      }
      return state;
    },
    attempt: (state) => state.invocation,
    succeeded(state, now) {
      if (state.record !== undefined) succeeded(runtime, state.first, state.record, now);
    },
    failed(state, error: RpcError, now) {
      const records = state.history();
      state.retry ??= new RetryCall(undefined, state.first, runtime, state.method, state.startedAt, records);
      return state.retry.failedAt(state.record!, error, now);
    },
    resume(state, now, cancelled) {
      const next = state.retry!.resumeAt(now, cancelled);
      state.record = next.record;
      state.invocation = next.invocation;
    },
  };
}
