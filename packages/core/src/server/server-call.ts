import { ContextValues } from '../context-key.js';
import type { DeadlineBucket, DeadlineEntry, DeadlineTimer } from '../deadline-timer.js';
import type { MethodDescriptor } from '../definition.js';
import { Code, RpcError } from '../errors.js';
import type { Metadata } from '../metadata.js';
import type { ServerCallEnd } from '../server-observer.js';
import type { ServiceKey } from '../service-key.js';
import type { PeerInfo } from '../transport.js';
import type { ServerInvocation } from './server-invocation.js';

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
  // Server observers and gates (server/server-hooks.ts): what they returned, by hook index — the
  // first four in fields, so a call with a few hooks (the built-in plugins: tracing, metrics, the
  // limiter, auth) allocates no array for them — and how many gates admitted the call. The call
  // doubles as the ServerCallEnd record (one object per call).
  private state0: unknown = undefined;
  private state1: unknown = undefined;
  private state2: unknown = undefined;
  private state3: unknown = undefined;
  private moreStates: unknown[] | undefined = undefined;
  /** Some hook returned a state (enter and callEnd have something to look up). */
  hasHookState = false;
  gatesPassed = 0;
  startedAt = 0;
  code: Code = Code.OK;
  error: unknown = undefined;
  latencyMs = 0;

  constructor(
    readonly service: ServiceKey,
    readonly method: MethodDescriptor,
    readonly request: unknown,
    /**
     * The request metadata, or the inbound request to read it from when somebody asks (the native
     * transport creates an empty map only then: most handlers never read it).
     */
    private readonly metadataSource: Metadata | MetadataSource,
    readonly deadline: number,
    readonly attempt: number,
    readonly peer: PeerInfo,
    private readonly timer: DeadlineTimer,
  ) {
    super();
  }

  /** What hook `index` returned for this call (undefined: nothing). */
  hookState(index: number): unknown {
    switch (index) {
      case 0: return this.state0;
      case 1: return this.state1;
      case 2: return this.state2;
      case 3: return this.state3;
      default: return this.moreStates?.[index - 4];
    }
  }

  setHookState(index: number, state: unknown): void {
    this.hasHookState = true;
    switch (index) {
      case 0: this.state0 = state; break;
      case 1: this.state1 = state; break;
      case 2: this.state2 = state; break;
      case 3: this.state3 = state; break;
      default: {
        // Packed, filled with undefined up to the index (a holey array reads past its end through the prototype chain).
        const more = (this.moreStates ??= []);
        while (more.length <= index - 4) more.push(undefined);
        more[index - 4] = state;
      }
    }
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
