import { ContextValues } from '../context-key.js';
import type { Endpoint } from '../endpoint.js';
import { Code, type RpcError } from '../errors.js';
import type { Invocation } from '../invocation.js';
import type { Attempt, CallEnd, CallObserver, StreamStats } from '../observer.js';
import type { RequestPump } from './request-pump.js';

/**
 * The per-call state the kernel keeps. A call's `Invocation.context` is this object, so every
 * invocation derived from the call (`withInvocation` shares the context) leads the kernel back to it.
 * It holds what observers returned from `callStart`, when the call started, and — when the kernel
 * runs the call without cluster interceptors — the caller's promise. It doubles as the `CallEnd`
 * record observers get (one object per call). Plugins see only the ContextValues part.
 */
export class CallContext extends ContextValues implements CallEnd {
  /** Per observer index, what its callStart returned (allocated only when one returns something). */
  states: unknown[] | undefined = undefined;
  // CallEnd, filled in when the call ends.
  invocation!: Invocation;
  code: Code = Code.OK;
  error: RpcError | undefined = undefined;
  endpoint: Endpoint | undefined = undefined;
  latencyMs = 0;
  /** Monotonic ms (the client's clock) when the call ended: the reading `latencyMs` came from. */
  endedAt = 0;
  /** The retry policy's state for this call, when the pipeline runs its attempts (no unary chain). */
  retry: unknown = undefined;
  /** Stream calls: what the stream did (CallEnd). */
  stream: StreamStats | undefined = undefined;
  // Stream calls (issue #18): the request pump shared by the call's attempts, the stream that was
  // set up (cancelled if an interceptor fails the call afterwards), and whether callEnd was reported.
  pump: RequestPump | undefined = undefined;
  setUpStream: { cancel(reason?: string): void } | undefined = undefined;
  streamEnded = false;
  // The caller's promise, when the kernel settles it itself (no cluster interceptors).
  resolve: ((value: unknown) => void) | undefined = undefined;
  reject: ((error: unknown) => void) | undefined = undefined;
  /** Settle with a Result ({ response, metadata, endpoint }) rather than the bare response. */
  withResult = false;

  constructor(readonly startedAt: number) {
    super();
  }

  state(index: number): unknown {
    return this.states === undefined ? undefined : this.states[index];
  }
}

/** The observer state of `invocation`'s call for observer `index` (undefined for a foreign invocation). */
export function observerState(invocation: Invocation, index: number): unknown {
  const context = invocation.context;
  return context instanceof CallContext ? context.state(index) : undefined;
}

/**
 * A client's observers, split by what they watch so a call pays only for the hooks somebody uses.
 * An observer's exception is reported once (process warning) and then ignored: watching a call must
 * never change it.
 */
export class Observers {
  readonly all: CallObserver[] = [];
  private readonly callStarts: number[] = [];
  private readonly attemptStarts: number[] = [];
  private readonly attemptEnds: number[] = [];
  private readonly callEnds: number[] = [];
  private readonly reported = new Set<number>();
  /** Some observer has callStart or callEnd. */
  watchesCalls = false;
  /** Some observer has attemptStart or attemptEnd. */
  watchesAttempts = false;

  /** Returns the observer's index (its slot for per-call state). */
  add(observer: CallObserver): number {
    const index = this.all.push(observer) - 1;
    if (observer.callStart) this.callStarts.push(index);
    if (observer.attemptStart) this.attemptStarts.push(index);
    if (observer.attemptEnd) this.attemptEnds.push(index);
    if (observer.callEnd) this.callEnds.push(index);
    this.watchesCalls = this.callStarts.length > 0 || this.callEnds.length > 0;
    this.watchesAttempts = this.attemptStarts.length > 0 || this.attemptEnds.length > 0;
    return index;
  }

  callStart(invocation: Invocation, context: CallContext): void {
    const list = this.callStarts;
    for (let i = 0; i < list.length; i++) {
      const index = list[i]!;
      let state: unknown;
      try {
        state = this.all[index]!.callStart!(invocation);
      } catch (error) {
        this.report(index, error);
        continue;
      }
      if (state !== undefined) (context.states ??= [])[index] = state;
    }
  }

  attemptStart(attempt: Attempt): void {
    const list = this.attemptStarts;
    for (let i = 0; i < list.length; i++) {
      const index = list[i]!;
      try {
        this.all[index]!.attemptStart!(attempt, observerState(attempt.invocation, index));
      } catch (error) {
        this.report(index, error);
      }
    }
  }

  attemptEnd(attempt: Attempt): void {
    const list = this.attemptEnds;
    for (let i = 0; i < list.length; i++) {
      const index = list[i]!;
      try {
        this.all[index]!.attemptEnd!(attempt, observerState(attempt.invocation, index));
      } catch (error) {
        this.report(index, error);
      }
    }
  }

  /** `context` has its CallEnd fields filled in. */
  callEnd(context: CallContext): void {
    const list = this.callEnds;
    for (let i = 0; i < list.length; i++) {
      const index = list[i]!;
      try {
        this.all[index]!.callEnd!(context, context.state(index));
      } catch (error) {
        this.report(index, error);
      }
    }
  }

  private report(index: number, error: unknown): void {
    if (this.reported.has(index)) return;
    this.reported.add(index);
    process.emitWarning(`a call observer threw (reported once, then ignored; it cannot change the call): ${(error as Error)?.stack ?? String(error)}`, 'TrellisWarning');
  }
}
