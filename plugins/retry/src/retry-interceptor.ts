import { isStreamKind, type Interceptor } from '@trellis/core';
import type { ClientRuntime } from './client-runtime.js';
import { RetryCall } from './retry-call.js';

/**
 * The cluster-level interceptor at InterceptorOrder.RETRY: below the per-method breaker (BREAKER,
 * which sees one call), above the rules gate, auth and user interceptors, routing and the balancer
 * (they see every attempt). Tracing and metrics are call observers: their `callEnd` sees the call as
 * the caller does, their `attemptEnd` each attempt.
 */
export function retryInterceptor(runtime: ClientRuntime): Interceptor {
  return (next) => (invocation) => {
    const method = runtime.method(invocation.method);
    // maxAttempts 1 is "retry off" for the method: no bookkeeping, no budget deposit.
    if (method === undefined || method.policy.maxAttempts === 1) return next(invocation);
    // One clock reading for the budget's deposit and the first attempt's start.
    const now = runtime.context.clock.now();
    runtime.budget?.deposit(now);
    // A stream is never hedged: two set-ups at once would share the caller's one request iterable
    // (issue #18). Its re-sends (before set-up only: next() resolves at set-up) are sequential.
    if (method.hedgeBudget !== undefined && (invocation.method.idempotent || method.policy.idempotent) && !isStreamKind(invocation.method.kind)) {
      method.hedgeBudget.deposit(now);
      return new RetryCall(next, invocation, runtime, method, now).runHedged();
    }
    return RetryCall.run(next, invocation, runtime, method, now);
  };
}
