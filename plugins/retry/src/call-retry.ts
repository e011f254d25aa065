import { createContextKey, isStreamKind, type Attempt, type CallObserver, type Invocation } from '@trellis/core';
import { newRecord, retryAttemptsKey, type MutableAttemptRecord } from './attempt-record.js';
import type { ClientRuntime, MethodRuntime } from './client-runtime.js';
import { hedges } from './retry-interceptor.js';
import type { RetryCall } from './retry-call.js';

/**
 * One unary call's retry state while the kernel runs its attempts (`retryPolicy`), kept in the call's
 * context (`callRetryKey`). Made at the first failure (or at once when something needs it from the
 * start: an `onAttempt` listener, an attempt timeout): a call that answers at once never has one.
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

  private constructor(
    readonly first: Invocation,
    readonly method: MethodRuntime,
    /** When the call's first attempt started (the kernel's reading). */
    readonly startedAt: number,
  ) {
    this.invocation = first;
  }

  /** The state of the call `first`, made now and kept in its context. */
  static of(first: Invocation, method: MethodRuntime, startedAt: number): CallRetry {
    const state = new CallRetry(first, method, startedAt);
    first.context.set(callRetryKey, state);
    return state;
  }

  /**
   * The attempt history: the one `recordEndpoint` began when the first send failed, or made now
   * with the first attempt's record (a refusal before any send, or made at the call's start).
   */
  history(): MutableAttemptRecord[] {
    let records = this.records;
    if (records === undefined) {
      const begun = this.first.context.get(retryAttemptsKey);
      records = begun.length !== 0 ? (begun as MutableAttemptRecord[]) : beginHistory(this.first, this.startedAt);
      this.records = records;
      this.record = records[records.length - 1];
    }
    return records;
  }
}

/** A call's history with its first attempt's record (not sent anywhere yet), in its context. */
function beginHistory(call: Invocation, startedAt: number): MutableAttemptRecord[] {
  // A one-element literal: an empty array grown by push reserves 17 slots.
  const records = [newRecord(1, false, startedAt, call.excluded)];
  call.context.set(retryAttemptsKey, records);
  return records;
}

/**
 * The method's retry settings when the retry policy runs this call: a unary call of a method with
 * retry on (maxAttempts 1 is "retry off": no bookkeeping, no budget deposit) that is not hedged.
 */
export function policyRuns(runtime: ClientRuntime, invocation: Invocation): MethodRuntime | undefined {
  if (isStreamKind(invocation.method.kind)) return undefined;
  const method = runtime.method(invocation.method);
  if (method === undefined || method.policy.maxAttempts === 1 || hedges(method, invocation)) return undefined;
  return method;
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
 * first attempt the retry policy runs has no history until something fails: its send is noted only
 * if it fails (`attemptEnd`), when the history is begun with the endpoint that failed and the send's
 * start; a transparent re-send that follows is appended as usual, and the policy's `failed` adopts it.
 */
export function recordEndpoint(runtime: ClientRuntime): CallObserver {
  return {
    attemptStart(attempt) {
      const record = currentRecord(attempt);
      if (record !== undefined) addTried(record, attempt);
    },
    attemptEnd(attempt) {
      if (attempt.error === undefined) return;
      const invocation = attempt.invocation;
      if (invocation.attempt !== 1 || invocation.context.get(retryAttemptsKey).length !== 0) return;
      if (policyRuns(runtime, invocation) === undefined) return;
      addTried(beginHistory(invocation, attempt.startedAt)[0]!, attempt);
    },
  };
}

function currentRecord(attempt: Attempt): MutableAttemptRecord | undefined {
  const invocation = attempt.invocation;
  const records = invocation.context.get(retryAttemptsKey);
  // A call that has not failed has no history (the shared empty list): say so without reading past
  // the end of an array, which V8 handles off its fast path.
  if (records.length === 0) return undefined;
  return records[invocation.attempt - 1] as MutableAttemptRecord | undefined;
}

function addTried(record: MutableAttemptRecord, attempt: Attempt): void {
  record.endpoint = attempt.endpoint;
  // A one-element array for the usual single send (an empty array grown by push reserves 17 slots:
  // ≈ 150 B per call); a transparent re-send, rare, copies.
  const tried = record.tried;
  record.tried = tried.length === 0 ? [attempt.endpoint.id] : [...tried, attempt.endpoint.id];
}
