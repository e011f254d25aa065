import { createContextKey, type Attempt, type CallObserver, type Invocation } from '@trellis/core';
import { newRecord, retryAttemptsKey, type MutableAttemptRecord } from './attempt-record.js';
import type { MethodRuntime } from './client-runtime.js';
import type { RetryCall } from './retry-call.js';

/**
 * One unary call's retry state while the kernel runs its attempts (`retryPolicy`). On the success
 * path it is the only thing retry allocates (≈ 50 B): the attempt history and the `RetryCall` that
 * decides are made by `history()` at the first failed send, or at once when something needs them
 * from the start (an `onAttempt` listener, an attempt timeout).
 */
export class CallRetry {
  /** Built at the first failure: most calls never fail. */
  retry: RetryCall | undefined = undefined;
  /** The call's attempts, once made (also in the context under `retryAttemptsKey`). */
  records: MutableAttemptRecord[] | undefined = undefined;
  /** The current attempt's record, once the history exists. */
  record: MutableAttemptRecord | undefined = undefined;
  /** The current attempt's invocation: the call's own until retry derives one. */
  invocation: Invocation;

  constructor(
    readonly first: Invocation,
    readonly method: MethodRuntime,
    /** The kernel's reading when the call reached retry: the first attempt's start. */
    readonly startedAt: number,
  ) {
    this.invocation = first;
  }

  /** The attempt history, made on first use with the first attempt's record (not sent anywhere yet). */
  history(): MutableAttemptRecord[] {
    let records = this.records;
    if (records === undefined) {
      const record = newRecord(1, false, this.startedAt, this.first.excluded);
      // A one-element literal: an empty array grown by push reserves 17 slots.
      this.records = records = [record];
      this.record = record;
      this.first.context.set(retryAttemptsKey, records);
    }
    return records;
  }
}

/**
 * Where the kernel's attempt observer (`recordEndpoint`) finds a call's `CallRetry`: retry's own
 * per-call state, under a key only this package holds.
 */
export const callRetryKey = createContextKey<CallRetry | undefined>(undefined, { description: '@trellis/retry call state' });

/**
 * Notes where each attempt went (every send, the kernel's transparent re-sends included), so the
 * next attempt can exclude them and a backup can avoid the endpoint the first attempt is waiting on.
 * A call observer: it runs in the kernel's flow when the balancer picked, no interceptor layer. A
 * first attempt whose history is not made yet (the kernel's policy, no failure so far) is noted only
 * if its send fails (`attemptEnd`): the history is made then, with the endpoint that failed, and a
 * transparent re-send that follows is appended as usual.
 */
export const recordEndpoint: CallObserver = {
  attemptStart(attempt) {
    const record = currentRecord(attempt);
    if (record !== undefined) addTried(record, attempt);
  },
  attemptEnd(attempt) {
    if (attempt.error === undefined) return;
    const invocation = attempt.invocation;
    if (invocation.attempt !== 1 || invocation.context.get(retryAttemptsKey).length !== 0) return;
    const state = invocation.context.get(callRetryKey);
    if (state === undefined) return;
    addTried(state.history()[0]!, attempt);
  },
};

function currentRecord(attempt: Attempt): MutableAttemptRecord | undefined {
  const invocation = attempt.invocation;
  return invocation.context.get(retryAttemptsKey)[invocation.attempt - 1] as MutableAttemptRecord | undefined;
}

function addTried(record: MutableAttemptRecord, attempt: Attempt): void {
  record.endpoint = attempt.endpoint;
  // A one-element array for the usual single send (an empty array grown by push reserves 17 slots:
  // ≈ 150 B per call); a transparent re-send, rare, copies.
  const tried = record.tried;
  record.tried = tried.length === 0 ? [attempt.endpoint.id] : [...tried, attempt.endpoint.id];
}
