import type { Clock } from '../clock.js';
import { Code, RpcError } from '../errors.js';
import type { Invocation } from '../invocation.js';

/** setTimeout's limit: a longer delay would overflow and fire at once. */
const MAX_DELAY_MS = 2_147_483_647;

/** True for what a gate returns to make a call wait (a promise, or any object with `then`). */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

/**
 * Waits for a gate's promise as long as the call may wait. `then` runs once: with undefined when the
 * promise fulfilled; with its rejection (as an RpcError); with DEADLINE_EXCEEDED when the call's
 * deadline came first, CANCELLED when the caller's signal aborted first — the promise is then not
 * waited for any further (its later outcome is dropped, never an unhandled rejection). No timer or
 * listener is left behind.
 *
 * The deadline timer is rounded up to whole milliseconds, as the transport rounds a call's timeout:
 * a gate that bounds its own wait by the deadline (the rules gate does, to say what it waited for)
 * ends first and its error is the one the caller gets.
 */
export function waitWithinCall(pending: PromiseLike<unknown>, invocation: Invocation, clock: Clock, then: (error: RpcError | undefined) => void): void {
  const signal = invocation.signal;
  let done = false;
  let timer: ReturnType<typeof setTimeout> | undefined = undefined;
  const finish = (error: RpcError | undefined): void => {
    if (done) return;
    done = true;
    if (timer !== undefined) clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    then(error);
  };
  const onAbort = (): void => finish(new RpcError(Code.CANCELLED, 'call cancelled by the caller while a gate held it', { mayHaveRun: false }));
  try {
    pending.then(
      () => finish(undefined),
      (thrown: unknown) => finish(RpcError.from(thrown)),
    );
  } catch (thrown) {
    return finish(RpcError.from(thrown)); // a thenable whose `then` throws
  }
  if (done) return; // a thenable that settled at once
  if (signal?.aborted) return onAbort();
  const remaining = invocation.deadline - clock.now();
  const expired = (): void => finish(new RpcError(Code.DEADLINE_EXCEEDED, 'deadline exceeded while a gate held the call', { mayHaveRun: false }));
  if (remaining <= 0) return expired();
  // (A deadline beyond setTimeout's range — an invocation an interceptor built — is not timed here.)
  if (remaining <= MAX_DELAY_MS) timer = setTimeout(expired, Math.ceil(remaining));
  signal?.addEventListener('abort', onAbort, { once: true });
}
