import { notExecuted, type RpcError } from '../errors.js';
import type { ServerCall } from './server-call.js';

/**
 * Waits for a server gate's promise as long as the call may wait: the returned promise fulfils with
 * what the gate's promise fulfilled with, rejects with its rejection, or — when the call's signal
 * aborts first (its deadline on the server's deadline timer, the caller's cancel, the connection
 * lost) — rejects with the abort's code (DEADLINE_EXCEEDED, CANCELLED…) and `mayHaveRun: false`: the
 * handler never ran. The gate's promise is not waited for any further then; if it fulfils later,
 * `admittedLate` gets what it fulfilled with (the gate admitted a call that is over: the kernel still
 * owes it its `callEnd`), and a later rejection is dropped (never an unhandled rejection).
 *
 * Only a call a gate holds pays for this: reading `signal` makes the call's AbortController and puts
 * it on the server's one deadline timer (the entry `ServerCall.finish` takes off when the call is
 * answered), and one abort listener is added, removed when the gate settles first. A gate that
 * answers synchronously never gets here.
 */
export function holdForGate(call: ServerCall, pending: PromiseLike<unknown>, admittedLate: (state: unknown) => void): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const signal = call.signal;
    let waiting = true;
    const onAbort = (): void => {
      if (!waiting) return;
      waiting = false;
      const reason = signal.reason as RpcError;
      reject(notExecuted(reason.code, `${reason.message} (while a gate held the call)`, reason));
    };
    // Promise.resolve adopts any thenable (one whose `then` throws becomes a rejection).
    Promise.resolve(pending).then(
      (state) => {
        if (!waiting) return admittedLate(state);
        waiting = false;
        signal.removeEventListener('abort', onAbort);
        resolve(state);
      },
      (error: unknown) => {
        if (!waiting) return;
        waiting = false;
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}
