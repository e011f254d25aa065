import { ContextValues } from '../context-key.js';
import type { Endpoint } from '../endpoint.js';
import { Code, type RpcError } from '../errors.js';
import type { Invocation } from '../invocation.js';
import type { Attempt, CallEnd, CallObserver, StreamStats } from '../observer.js';
import type { RequestPump } from './request-pump.js';
import { NO_GATES, splitGates, type GateEntry, type Gates } from './gate-lists.js';

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
  /** The observers' hooks active when the call started: the call keeps them to its end. */
  hooks: HookLists | undefined = undefined;
  // CallEnd, filled in when the call ends.
  invocation!: Invocation;
  code: Code = Code.OK;
  error: RpcError | undefined = undefined;
  endpoint: Endpoint | undefined = undefined;
  /**
   * The clock reading the call ended at (undefined before), kept as the very number the clock returned
   * and shared with the last attempt's `endReading`: a field that starts undefined stays a tagged
   * field in V8, so storing a reading stores its heap number. Fields that start at 0 turn into double
   * fields once a fraction is stored, and every call object then allocates a 16-byte box per such
   * field when built, used or not (docs/performance.md, session 10 kernel fields).
   */
  endReading: number | undefined = undefined;
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

  /** CallEnd: from the start to the end reading, ms (0 before the end). */
  get latencyMs(): number {
    const end = this.endReading;
    return end === undefined ? 0 : end - this.startedAt;
  }

  /** CallEnd: monotonic ms (the client's clock) when the call ended: the reading `latencyMs` came from. */
  get endedAt(): number {
    return this.endReading ?? 0;
  }
}

/** The observer state of `invocation`'s call for observer `index` (undefined for a foreign invocation). */
export function observerState(invocation: Invocation, index: number): unknown {
  return statesOf(invocation)?.[index];
}

/** The observer state array of `invocation`'s call (undefined for a foreign invocation, or none kept). */
export function statesOf(invocation: Invocation): unknown[] | undefined {
  const context = invocation.context;
  return context instanceof CallContext ? context.states : undefined;
}

/**
 * One observer's hook of one kind, as the dispatch loop calls it: the function read once when the
 * observer was added, so a call does not look the method up on each observer's own class (a property
 * load that sees a different class per observer: V8's megamorphic path, on every attempt and call).
 */
interface Hook<A> {
  readonly fn: (this: CallObserver, subject: A, state: unknown) => unknown;
  readonly observer: CallObserver;
  /** The observer's index: its slot in the call's state array. */
  readonly index: number;
}

function hookOf<A>(observer: CallObserver, fn: ((subject: A, state: unknown) => unknown) | undefined, index: number): Hook<A> | undefined {
  return fn === undefined ? undefined : { fn: fn as Hook<A>['fn'], observer, index };
}

/**
 * One observer as registered: its hooks, its gate part when it was added as a gate (`addGate`), and
 * whether it is active (`setHookActive`: a gate's gate and observer parts switch together).
 */
interface ObserverEntry {
  readonly callStart: Hook<Invocation> | undefined;
  readonly attemptStart: Hook<Attempt> | undefined;
  readonly attemptEnd: Hook<Attempt> | undefined;
  readonly callEnd: Hook<CallEnd> | undefined;
  gate: GateEntry | undefined;
  active: boolean;
}

/**
 * The hooks of the observers and gates active when a call started: a call keeps this object
 * (CallContext.hooks) for all its hooks, so an observer switched on or off while the call runs
 * (`setHookActive`) neither misses the end of a call it saw start nor sees the end of one it did not,
 * and a call's gates — those it waits at, those before its later attempts — are the ones active when
 * it started. Rebuilt (never changed) on a switch.
 */
export class HookLists {
  readonly callStarts: readonly Hook<Invocation>[];
  readonly attemptStarts: readonly Hook<Attempt>[];
  readonly attemptEnds: readonly Hook<Attempt>[];
  readonly callEnds: readonly Hook<CallEnd>[];
  /** Some active observer has callStart or callEnd. */
  readonly watchesCalls: boolean;
  /** Some active observer has attemptStart or attemptEnd. */
  readonly watchesAttempts: boolean;
  /** The active gates, by order, split at retry's position (the pipeline runs these when it has no unary chain). */
  readonly gates: Gates;
  /** The same active gates unsplit, for a gate layer of an interceptor chain to find itself in. */
  readonly activeGates: readonly GateEntry[];

  constructor(entries: readonly ObserverEntry[]) {
    const active = entries.filter((e) => e.active);
    this.activeGates = active.flatMap((e) => (e.gate === undefined ? [] : [e.gate]));
    this.gates = this.activeGates.length === 0 ? NO_GATES : splitGates(this.activeGates);
    this.callStarts = active.flatMap((e) => (e.callStart === undefined ? [] : [e.callStart]));
    this.attemptStarts = active.flatMap((e) => (e.attemptStart === undefined ? [] : [e.attemptStart]));
    this.attemptEnds = active.flatMap((e) => (e.attemptEnd === undefined ? [] : [e.attemptEnd]));
    this.callEnds = active.flatMap((e) => (e.callEnd === undefined ? [] : [e.callEnd]));
    this.watchesCalls = this.callStarts.length > 0 || this.callEnds.length > 0;
    this.watchesAttempts = this.attemptStarts.length > 0 || this.attemptEnds.length > 0;
  }
}

/**
 * A client's observers, split by what they watch so a call pays only for the hooks somebody uses —
 * and, among those, only for the active ones (`ClientPluginContext.setHookActive`: a plugin with
 * nothing to do right now leaves the call path until it says otherwise). An observer's exception is
 * reported once (process warning) and then ignored: watching a call must never change it.
 */
export class Observers {
  readonly all: CallObserver[] = [];
  private readonly entries: ObserverEntry[] = [];
  /** The hooks a call starting now gets. */
  current = new HookLists([]);
  private readonly reported = new Set<number>();

  /**
   * Returns the observer's index (its slot for per-call state) and what switches it on and off
   * (`ClientPluginContext.setHookActive`; active at first). `gate`: the observer is a gate (`addGate`),
   * whose entry — made with its index — joins the calls' gate lists while it is active.
   */
  add(observer: CallObserver, gate?: (index: number) => GateEntry): { index: number; setActive: (active: boolean) => void } {
    const index = this.all.push(observer) - 1;
    const entry: ObserverEntry = {
      callStart: hookOf<Invocation>(observer, observer.callStart, index),
      attemptStart: hookOf<Attempt>(observer, observer.attemptStart, index),
      attemptEnd: hookOf<Attempt>(observer, observer.attemptEnd, index),
      callEnd: hookOf<CallEnd>(observer, observer.callEnd, index),
      gate: gate?.(index),
      active: true,
    };
    this.entries.push(entry);
    this.current = new HookLists(this.entries);
    const setActive = (active: boolean): void => {
      if (entry.active === active) return;
      entry.active = active;
      this.current = new HookLists(this.entries);
    };
    return { index, setActive };
  }

  /** The hooks of `invocation`'s call (those in force now for an invocation an interceptor built). */
  of(invocation: Invocation): HookLists {
    const context = invocation.context;
    return context instanceof CallContext && context.hooks !== undefined ? context.hooks : this.current;
  }

  /** Runs callStart of the call's hooks (`context.hooks`, set by the caller). */
  callStart(invocation: Invocation, context: CallContext): void {
    const list = context.hooks!.callStarts;
    for (let i = 0; i < list.length; i++) {
      const hook = list[i]!;
      let state: unknown;
      try {
        state = hook.fn.call(hook.observer, invocation, undefined);
      } catch (error) {
        this.report(hook.index, error);
        continue;
      }
      if (state !== undefined) (context.states ??= [])[hook.index] = state;
    }
  }

  attemptStart(hooks: HookLists, attempt: Attempt): void {
    this.dispatch(hooks.attemptStarts, attempt, statesOf(attempt.invocation));
  }

  attemptEnd(hooks: HookLists, attempt: Attempt): void {
    this.dispatch(hooks.attemptEnds, attempt, statesOf(attempt.invocation));
  }

  /** `context` has its CallEnd fields filled in. */
  callEnd(context: CallContext): void {
    this.dispatch((context.hooks ?? this.current).callEnds, context, context.states);
  }

  /** Each hook with the call's state for its observer; the state array looked up once per dispatch. */
  private dispatch<A>(list: readonly Hook<A>[], subject: A, states: unknown[] | undefined): void {
    for (let i = 0; i < list.length; i++) {
      const hook = list[i]!;
      try {
        hook.fn.call(hook.observer, subject, states === undefined ? undefined : states[hook.index]);
      } catch (error) {
        this.report(hook.index, error);
      }
    }
  }

  private report(index: number, error: unknown): void {
    if (this.reported.has(index)) return;
    this.reported.add(index);
    process.emitWarning(`a call observer threw (reported once, then ignored; it cannot change the call): ${(error as Error)?.stack ?? String(error)}`, 'TrellisWarning');
  }
}
