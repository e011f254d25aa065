import { ContextValues } from '../context-key.js';
import type { DeadlineBucket, DeadlineEntry, DeadlineTimer } from '../deadline-timer.js';
import type { MethodDescriptor } from '../definition.js';
import { Code, RpcError } from '../errors.js';
import type { Metadata } from '../metadata.js';
import type { ServerCallEnd } from '../server-observer.js';
import type { ServiceKey } from '../service-key.js';
import type { PeerInfo } from '../transport.js';
import type { ServerInvocation } from './server-invocation.js';

const NO_STATE = -1;
const MANY_STATES = -2;

/**
 * Where a call's metadata comes from when the transport makes it on demand: the inbound request.
 * `requestMetadata`, when the transport has it (the native one), reads the entries without making
 * the request's own Map (server-connection.ts); otherwise `metadata` serves both.
 */
interface MetadataSource {
  readonly metadata: Metadata;
  readonly requestMetadata?: ReadonlyMap<string, string>;
}

/**
 * A call's deadline as a distance from its arrival: the caller's timeout (0 on the wire: none) capped
 * by the method's own (`@RpcMethod({ timeoutMs })`), or -1 when neither sets one.
 */
export function deadlineBudget(requestTimeoutMs: number, methodTimeoutMs: number | undefined): number {
  const budget = requestTimeoutMs > 0 ? requestTimeoutMs : -1;
  if (methodTimeoutMs === undefined) return budget;
  return budget < 0 ? methodTimeoutMs : Math.min(budget, methodTimeoutMs);
}

/**
 * The ServerInvocation handed to interceptors and the handler (and its own context values). Its AbortSignal — and the deadline
 * timer entry that fires it — is created only when someone reads `signal`: most handlers never do,
 * and an AbortController per call is measurable on the hot path.
 */
export class ServerCall extends ContextValues implements ServerInvocation, DeadlineEntry, ServerCallEnd {
  /** (The deadline timer adds its list links only to the calls it holds: few handlers read `signal`.) */
  bucket: DeadlineBucket | number = 0;
  private controller: AbortController | undefined;
  private abortReason: RpcError | undefined;
  private responseMeta: Metadata | undefined;
  private headerBlock: Metadata | undefined;
  private timerArmed = false;
  // Server observers and gates (server/server-hooks.ts): what they returned, by hook index, and how
  // many gates admitted the call. Usually one hook at most returns a state (metrics' series; tracing's
  // with an SDK is a second): the state itself is kept, with its index, and an array by index only
  // once a second hook returns one. The call doubles as the ServerCallEnd record (one object per call).
  private states: unknown = undefined;
  /** Whose state `states` is: a hook index, NO_STATE, or MANY_STATES (then an array by hook index). */
  private stateIndex = NO_STATE;
  gatesPassed = 0;
  code: Code = Code.OK;
  error: unknown = undefined;
  // The clock readings at the call's start and end, kept as the very numbers the clock returned: a
  // field that starts undefined stays a tagged field in V8, so storing a reading shares its heap number.
  // A field that starts at 0 turns into a double field once a fraction is stored, and from then on
  // every call object allocates a 16-byte box per such field when it is built (docs/performance.md,
  // session 10 kernel fields). The start is the dispatch's one reading, which the deadline is counted
  // from too: the deadline is `startReading + budgetMs`, not a number of its own, so a governed call
  // boxes one reading for both (a stored `now + timeout` was a second 16-byte heap number per call;
  // docs/performance.md, "Governance path, session 12 (server)"). The hooks' end reading is the other.
  startReading: number | undefined = undefined;
  endReading: number | undefined = undefined;

  constructor(
    readonly service: ServiceKey,
    readonly method: MethodDescriptor,
    readonly request: unknown,
    /**
     * The request metadata, or the inbound request to read it from when somebody asks (the native
     * transport creates an empty map only then: most handlers never read it).
     */
    private readonly metadataSource: Metadata | MetadataSource,
    /** The server's clock when the call arrived: its start and what its deadline counts from. */
    receivedAt: number,
    /** From `receivedAt` to the deadline, ms, or -1 for none (`deadlineBudget`): a small integer, no heap number. */
    private readonly budgetMs: number,
    readonly attempt: number,
    readonly peer: PeerInfo,
    private readonly timer: DeadlineTimer,
  ) {
    super();
    this.startReading = receivedAt;
  }

  /** The server's monotonic ms by which the call must be answered (Infinity: no deadline). */
  get deadline(): number {
    const budget = this.budgetMs;
    return budget < 0 ? Infinity : (this.startReading as number) + budget;
  }

  /** ServerCallEnd: the start reading (the call's arrival; for a stream the hooks' own reading). */
  get startedAt(): number {
    return this.startReading ?? 0;
  }

  /** ServerCallEnd: from the start to the end reading (0 until the hooks end the call). */
  get latencyMs(): number {
    const end = this.endReading;
    return end === undefined ? 0 : end - this.startedAt;
  }

  /** Some hook returned a state for this call. */
  get hasHookState(): boolean {
    return this.stateIndex !== NO_STATE;
  }

  /** What hook `index` returned for this call (undefined: nothing). */
  hookState(index: number): unknown {
    const held = this.stateIndex;
    if (held === index) return this.states;
    return held === MANY_STATES ? (this.states as unknown[])[index] : undefined;
  }

  setHookState(index: number, state: unknown): void {
    const held = this.stateIndex;
    if (held === NO_STATE || held === index) {
      this.stateIndex = index;
      this.states = state;
      return;
    }
    if (held !== MANY_STATES) {
      // A second hook's state: an array by index, packed (a holey one reads past its end through the
      // prototype chain), of four slots from a literal (exactly four) when that is enough.
      const states: unknown[] = [undefined, undefined, undefined, undefined];
      while (states.length <= held) states.push(undefined);
      states[held] = this.states;
      this.states = states;
      this.stateIndex = MANY_STATES;
    }
    const states = this.states as unknown[];
    while (states.length <= index) states.push(undefined);
    states[index] = state;
  }

  /** ServerCallEnd: the call itself. */
  get invocation(): ServerInvocation {
    return this;
  }

  get metadata(): Metadata {
    const source = this.metadataSource;
    return source instanceof Map ? source : source.metadata;
  }

  get requestMetadata(): ReadonlyMap<string, string> {
    const source = this.metadataSource;
    if (source instanceof Map) return source;
    return source.requestMetadata ?? source.metadata;
  }

  /** The call's context values are the call itself (one object less per call, like the client's CallContext). */
  get context(): ContextValues {
    return this;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortReason !== undefined) this.controller.abort(this.abortReason);
      else if (Number.isFinite(this.deadline)) {
        this.timerArmed = true;
        this.timer.add(this, this.deadline);
      }
    }
    return this.controller.signal;
  }

  get responseMetadata(): Metadata {
    return (this.responseMeta ??= new Map());
  }

  get trailers(): Metadata | undefined {
    return this.responseMeta;
  }

  /** A unary call's response headers (a stream call has its own, sent before its first message). */
  get responseHeaders(): Metadata {
    return (this.headerBlock ??= new Map());
  }

  /** The unary response headers the handler set, or undefined when it set none. */
  get headers(): Metadata | undefined {
    return this.headerBlock;
  }

  onDeadline(): void {
    this.timerArmed = false;
    this.abort(new RpcError(Code.DEADLINE_EXCEEDED, 'deadline exceeded on the server'));
  }

  abort(reason: RpcError): void {
    if (this.abortReason !== undefined) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }

  get aborted(): RpcError | undefined {
    return this.abortReason;
  }

  /** Releases the deadline entry when the call ends. */
  finish(): void {
    if (this.timerArmed) {
      this.timerArmed = false;
      this.timer.remove(this);
    }
  }
}
