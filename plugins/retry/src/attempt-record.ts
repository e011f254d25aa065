import { createContextKey, type Endpoint, type RpcError } from '@trellis/core';

/** Why the retry plugin did (or did not) send another attempt after a failed one. */
export type RetryDecision =
  /** Another attempt follows after the backoff. */
  | 'retry'
  /** Every endpoint already failed this call; trying them again (`fallbackToFailed`). */
  | 'fallback'
  /** Another attempt of this call (a backup) is still running; its answer decides. */
  | 'other-attempt-pending'
  /** The error is not retryable (`retryOn` / `retryIf`). */
  | 'not-retryable'
  /** The request may have run and the method is not idempotent. */
  | 'not-idempotent'
  | 'max-attempts'
  /** The call's deadline passed, or would pass during the backoff. */
  | 'deadline'
  /** The retry budget is spent. */
  | 'budget'
  /** Every endpoint already failed this call. */
  | 'no-endpoint-left'
  /**
   * The attempt was refused before it reached an endpoint: a router (an open circuit, a rule), the
   * balancer or an interceptor below retry. Sending it again would be refused the same way; the
   * note quotes the refusal.
   */
  | 'refused'
  /** The caller cancelled, or another attempt won. */
  | 'cancelled';

/**
 * One attempt of one call. The plugin fills it in as the attempt runs; readers (tracing, `onAttempt`)
 * see it read-only. Attempt numbers are 1-based and also travel to the server
 * (`ServerInvocation.attempt`).
 */
export interface AttemptRecord {
  readonly attempt: number;
  /** A backup request, sent while an earlier attempt was still running. */
  readonly hedge: boolean;
  /** Monotonic ms (the client's clock) when the attempt started. */
  readonly startedAt: number;
  /** The endpoint it was sent to last; undefined if none could be picked. */
  readonly endpoint: Endpoint | undefined;
  /** Endpoint ids it was sent to: more than one when the kernel re-sent a refused request. */
  readonly tried: readonly string[];
  /** Endpoint ids it was told to avoid (they failed this call, or a backup's sibling is on them). */
  readonly excluded: ReadonlySet<string>;
  readonly outcome: 'pending' | 'ok' | 'failed' | 'cancelled';
  readonly latencyMs: number | undefined;
  readonly error: RpcError | undefined;
  /** For a failed attempt: what the plugin did next. */
  readonly decision: RetryDecision | undefined;
}

/** The writable shape, for this package only. */
export interface MutableAttemptRecord {
  attempt: number;
  hedge: boolean;
  startedAt: number;
  endpoint: Endpoint | undefined;
  /** Replaced, never mutated: it starts as the shared empty list (see `recordEndpoint`). */
  tried: readonly string[];
  excluded: ReadonlySet<string>;
  outcome: AttemptRecord['outcome'];
  latencyMs: number | undefined;
  error: RpcError | undefined;
  decision: RetryDecision | undefined;
}

const NO_ATTEMPTS: readonly AttemptRecord[] = Object.freeze([]);
const NOT_SENT: readonly string[] = Object.freeze([]);

/**
 * The attempts of the current call, in order (index = attempt − 1): retry's own per-call state,
 * readable by the application. The array is shared by every attempt of the call, so an interceptor
 * outside retry (at InterceptorOrder.BREAKER or a smaller number) reads the whole history once the
 * call settles, and an endpoint interceptor or a call observer reads the current attempt.
 */
export const retryAttemptsKey = createContextKey<readonly AttemptRecord[]>(NO_ATTEMPTS, { description: '@trellis/retry attempts' });

export function newRecord(attempt: number, hedge: boolean, startedAt: number, excluded: ReadonlySet<string>): MutableAttemptRecord {
  return { attempt, hedge, startedAt, endpoint: undefined, tried: NOT_SENT, excluded, outcome: 'pending', latencyMs: undefined, error: undefined, decision: undefined };
}

/**
 * True when an attempt's error came back from a picked endpoint (the kernel names it in
 * `error.endpoint`). False means routing or the balancer found nothing to pick (or an interceptor
 * above the endpoints refused): no endpoint is to blame.
 */
export function cameFromEndpoint(error: RpcError): boolean {
  return error.endpoint !== undefined;
}
