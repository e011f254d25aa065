import { isStreamKind, type Interceptor, type Invocation } from '@trellis/core';
import type { ClientRuntime, MethodRuntime } from './client-runtime.js';
import { RetryCall } from './retry-call.js';

/** A call that gets backup requests: the method hedges, it is idempotent, and it is not a stream. */
export function hedges(method: MethodRuntime, invocation: Invocation): boolean {
  // A stream is never hedged: two set-ups at once would share the caller's one request iterable
  // (issue #18). Its re-sends (before set-up only: next() resolves at set-up) are sequential.
  return method.hedgeBudget !== undefined && (invocation.method.idempotent || method.policy.idempotent) && !isStreamKind(invocation.method.kind);
}

/**
 * Retry as a cluster interceptor at InterceptorOrder.RETRY, for the calls the kernel's retry policy
 * (retry-policy.ts) does not run: stream calls (registered for 'streams'), and hedged unary calls
 * (`hedging`: registered for 'unary', only when some method hedges; other calls pass through). Below
 * the per-method breaker (BREAKER, which sees one call), above the rules gate, auth and user
 * interceptors, routing and the balancer (they see every attempt).
 */
export function retryInterceptor(runtime: ClientRuntime, hedging: boolean): Interceptor {
  return (next) => (invocation) => {
    const method = runtime.method(invocation.method);
    // maxAttempts 1 is "retry off" for the method: no bookkeeping, no budget deposit.
    if (method === undefined || method.policy.maxAttempts === 1) return next(invocation);
    const hedged = hedges(method, invocation);
    if (hedging && !hedged) return next(invocation); // the kernel's retry policy runs it
    // One clock reading for the budget's deposit and the first attempt's start.
    const now = runtime.context.clock.now();
    runtime.budget?.deposit(now);
    if (hedged) {
      method.hedgeBudget!.deposit(now);
      return new RetryCall(next, invocation, runtime, method, now).runHedged();
    }
    return RetryCall.run(next, invocation, runtime, method, now);
  };
}
