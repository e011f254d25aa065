import { Code, RpcError } from '../errors.js';
import type { ServerCallObserver, ServerGate } from '../server-observer.js';
import { holdForGate } from './gate-hold.js';
import type { ServerCall } from './server-call.js';
import type { ServerInvocation } from './server-invocation.js';

/** The rest of a call after the hooks: the handler itself, or the interceptor chain around it. */
export type ServerCallBody = (call: ServerInvocation) => unknown;

/** The code of whatever a call threw: an RpcError's (or any valid numeric `code`), else UNKNOWN. */
export function codeOfThrown(error: unknown): Code {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' && Code[code] !== undefined ? code : Code.UNKNOWN;
}

/**
 * A server's observers and gates (docs/architecture.md, "The server chain"), run in the kernel's own
 * flow: observers' `callStart` → their `enter` (only those that returned a state) → gates by order →
 * the body (interceptor chain or handler); at the end, once, every admitting gate's and every
 * observer's `callEnd` with the kernel's code and latency. Per-call state lives on the `ServerCall`
 * (`hookState`: one hook's state kept as it is, an array only once a second hook returns one).
 */
export class ServerHooks {
  private readonly observers: ServerCallObserver[] = [];
  private readonly gates: { gate: ServerGate; order: number }[] = [];
  private readonly reported = new Set<object>();
  // Kept beside `entering` on purpose (measured, session 11): an enter walk over `entering` by
  // observer index instead — the same observers entered in the same order — put the traced server's
  // GC at 38–48 % of its busy time (server CPU 18–21 µs per call) against 4–13 % with this list
  // (9.5 µs), apps/bench "every call traced" @256, several alternating runs. The GC was V8 pretenuring
  // the decoded requests' and the SDK's allocation sites at warm-up; how this walk changed how often
  // that happens is not established (docs/performance.md, "GC on Trellis servers, session 11"). Do not
  // merge the two lists without that bench.
  /** Observers with `enter`, by index (the state slot). */
  private enters: number[] = [];
  /** By observer index: whether it has `enter` (a state it returns means the call is entered). */
  private entering: boolean[] = [];
  private sortedGates: ServerGate[] = [];
  /** Some hook has a callEnd: the kernel reads the clock at the end. */
  private endsWatched = false;
  /** No observer and no gate (set at `seal`; a field, not a getter: the dispatch reads it per call). */
  empty = true;

  observe(observer: ServerCallObserver): void {
    this.observers.push(observer);
  }

  addGate(gate: ServerGate, order: number): void {
    this.gates.push({ gate, order });
  }

  /** Fixes the order once every plugin is set up (start). */
  seal(): void {
    this.sortedGates = [...this.gates].sort((a, b) => a.order - b.order).map((g) => g.gate);
    this.enters = [];
    this.entering = this.observers.map((o) => o.enter !== undefined);
    this.observers.forEach((o, i) => {
      if (o.enter !== undefined) this.enters.push(i);
    });
    this.empty = this.observers.length === 0 && this.gates.length === 0;
    this.endsWatched = this.observers.some((o) => o.callEnd !== undefined) || this.sortedGates.some((g) => g.callEnd !== undefined);
  }

  /**
   * Runs the call's start hooks and its body; returns the body's result (a value or a promise). A
   * gate's refusal is thrown: the caller answers it and calls `end` as for any other failure.
   */
  start(call: ServerCall, body: ServerCallBody): unknown {
    // The call's own start reading (its arrival), handed to every callStart as the very heap number
    // the call holds: read from the call, not passed in, so no second box is made for it.
    const startedAt = call.startReading as number;
    const observers = this.observers;
    // Whether an observer with `enter` returned a state: only then is the rest of the call entered
    // (a state from an observer without `enter`, metrics' series, needs no walk of the enters).
    let entered = false;
    for (let i = 0; i < observers.length; i++) {
      const callStart = observers[i]!.callStart;
      if (callStart === undefined) continue;
      let state: unknown;
      try {
        state = callStart.call(observers[i], call, startedAt);
      } catch (error) {
        this.report(observers[i]!, error);
        continue;
      }
      if (state !== undefined) {
        call.setHookState(i, state);
        if (this.entering[i] === true) entered = true;
      }
    }
    if (entered) return this.enterFrom(0, call, body);
    return this.admit(call, body);
  }

  /** Ends the call for every hook; `now` is the kernel's one end-of-call clock reading. */
  end(call: ServerCall, code: Code, error: unknown, now: number): void {
    call.code = code;
    call.error = error;
    call.endReading = now;
    const gates = this.sortedGates;
    const stated = call.hasHookState;
    const base = this.observers.length;
    for (let i = call.gatesPassed - 1; i >= 0; i--) {
      const gate = gates[i]!;
      if (gate.callEnd === undefined) continue;
      try {
        gate.callEnd(call, stated ? call.hookState(base + i) : undefined);
      } catch (thrown) {
        this.report(gate, thrown);
      }
    }
    const observers = this.observers;
    for (let i = 0; i < observers.length; i++) {
      const callEnd = observers[i]!.callEnd;
      if (callEnd === undefined) continue;
      try {
        callEnd.call(observers[i], call, stated ? call.hookState(i) : undefined);
      } catch (thrown) {
        this.report(observers[i]!, thrown);
      }
    }
  }

  /** Whether `end` needs a clock reading (some hook has a callEnd). */
  get watchesEnds(): boolean {
    return this.endsWatched;
  }

  /**
   * A stream's whole life (issue #18): the stream dispatch runs the interceptor chain once around
   * the handler and settles when it is done; this wraps it with the hooks, ending the call with the
   * handler's outcome or, for a stream a cancel or the deadline stopped, the abort's status.
   */
  runStream(call: ServerCall, chain: (call: ServerInvocation) => Promise<unknown>, clock: () => number): Promise<unknown> {
    let result: Promise<unknown>;
    try {
      result = Promise.resolve(this.start(call, chain));
    } catch (error) {
      result = Promise.reject(error);
    }
    return result.then(
      (response) => {
        const reason: unknown = call.signal.aborted ? call.signal.reason : undefined;
        this.end(call, reason === undefined ? Code.OK : reason instanceof RpcError ? reason.code : Code.CANCELLED, reason, clock());
        return response;
      },
      (error: unknown) => {
        this.end(call, codeOfThrown(error), error, clock());
        throw error;
      },
    );
  }

  private enterFrom(k: number, call: ServerCall, body: ServerCallBody): unknown {
    const enters = this.enters;
    for (; k < enters.length; k++) {
      const index = enters[k]!;
      const state = call.hookState(index);
      if (state === undefined) continue;
      const next = k + 1;
      return this.observers[index]!.enter!(state, () => this.enterFrom(next, call, body), call);
    }
    return this.admit(call, body);
  }

  private admit(call: ServerCall, body: ServerCallBody, from = 0): unknown {
    const gates = this.sortedGates;
    const base = this.observers.length;
    for (let i = from; i < gates.length; i++) {
      const state = gates[i]!.admit(call, call.startedAt);
      if (isThenable(state)) {
        // An asynchronous check (an auth verifier that returns a promise): the rest waits for it, as
        // long as the call may wait (gate-hold.ts: its deadline, the caller's cancel).
        return holdForGate(call, state, (late) => this.admittedLate(call, i, late)).then((settled) => {
          call.gatesPassed = i + 1;
          if (settled !== undefined) call.setHookState(base + i, settled);
          return this.admit(call, body, i + 1);
        });
      }
      call.gatesPassed = i + 1;
      if (state !== undefined) call.setHookState(base + i, state);
    }
    return body(call);
  }

  /**
   * Gate `i`'s promise fulfilled after the kernel stopped waiting for it (the call's deadline passed,
   * the caller cancelled): the gate admitted a call that is over, and it hears that call's end once —
   * with the end's code, DEADLINE_EXCEEDED or CANCELLED, and the state it fulfilled with (a permit a
   * limiter's queue handed out late is given back). Nothing after that gate runs. When the kernel's
   * end is still on its way (the abort's rejection settles a few microtasks later), the gate is
   * counted as admitted and `end` calls it; when the end is done, it is called here.
   */
  private admittedLate(call: ServerCall, i: number, state: unknown): void {
    const gate = this.sortedGates[i]!;
    if (gate.callEnd === undefined) return;
    if (call.endReading === undefined) {
      call.gatesPassed = i + 1;
      if (state !== undefined) call.setHookState(this.observers.length + i, state);
      return;
    }
    try {
      gate.callEnd(call, state);
    } catch (thrown) {
      this.report(gate, thrown);
    }
  }

  private report(hook: object, error: unknown): void {
    if (this.reported.has(hook)) return;
    this.reported.add(hook);
    process.emitWarning(`a server call observer or gate threw where it must not (reported once, then ignored; it cannot change the call): ${(error as Error)?.stack ?? String(error)}`, 'TrellisWarning');
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function';
}
