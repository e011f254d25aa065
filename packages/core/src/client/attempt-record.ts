import type { Pick } from '../balancer/load-balancer.js';
import type { Endpoint } from '../endpoint.js';
import { blameEndpoint, Code, type RpcError } from '../errors.js';
import type { Invocation, Result } from '../invocation.js';
import type { Metadata } from '../metadata.js';
import type { Attempt } from '../observer.js';
import type { MessageCodec } from '../definition.js';
import type { OutboundRequest, ResponseSink } from '../transport.js';
import type { CallContext, HookLists } from './call-state.js';

/** What an attempt reports to when its send ends (the client's call pipeline). */
export interface AttemptOwner {
  answered(record: AttemptRecord, body: Uint8Array, metadata: ReadonlyMap<string, string>, arrivedAt: (() => number) | undefined): void;
  failed(record: AttemptRecord, error: RpcError): void;
}

/**
 * One attempt in flight, as one object: the record observers see (`Attempt`), the outcome the
 * balancer's `Pick.done` gets, the request the transport writes (`OutboundRequest`) and the sink it
 * answers (`ResponseSink`). A transparent re-send reuses it (`resend`). Where the attempt's result
 * goes: the caller's promise directly (`call`, no cluster interceptors), or the promise the cluster
 * chain awaits (`resolveResult` / `rejectResult`).
 */
export class AttemptRecord implements Attempt, OutboundRequest, ResponseSink {
  // Attempt
  send = 1;
  code: Code = Code.OK;
  error: RpcError | undefined = undefined;
  mayHaveRun = true;
  /**
   * The clock reading this send ended at (undefined before), the clock's own number: a tagged field
   * (it starts undefined) shares the reading with the call's `endReading`, where a field starting at
   * 0 would become a double field with a box of its own per record (see CallContext.endReading).
   */
  endReading: number | undefined = undefined;
  bytesSent = 0;
  bytesReceived = 0;
  // OutboundRequest, filled in just before the transport gets it
  group = '';
  service = '';
  version = '';
  method = '';
  metadata!: Metadata;
  /** Set when the request codec encodes in place (`encodeBody`): the body's size, its bytes not made yet. */
  bodyLength: number | undefined = undefined;
  /** The body's bytes, once made (at once, or when a transport reads `body`). */
  private bytes: Uint8Array | undefined = undefined;
  /** What `writeBody` encodes, between `encodeBody` and the transport's write. */
  private codec: MessageCodec | undefined = undefined;
  private message: unknown = undefined;
  timeoutMs = 0;
  /** OutboundRequest.sentAt: the send's reading (a tagged field: it points at the start's heap number). */
  sentAt: number | undefined = undefined;
  attempt = 1;
  signal: AbortSignal | undefined = undefined;
  // Where the result goes
  call: CallContext | undefined = undefined;
  resolveResult: ((result: Result) => void) | undefined = undefined;
  rejectResult: ((error: unknown) => void) | undefined = undefined;

  constructor(
    private readonly owner: AttemptOwner,
    public invocation: Invocation,
    public pick: Pick,
    public endpoint: Endpoint,
    public startedAt: number,
    /** The observers' hooks of the attempt's call (`Observers.of`): the ones active when it started. */
    readonly hooks: HookLists,
  ) {}

  /** Attempt: duration of the send, ms (0 until it ended). */
  get latencyMs(): number {
    const end = this.endReading;
    return end === undefined ? 0 : end - this.startedAt;
  }

  /**
   * Measures (or encodes) this send's request body; throws what the codec throws. With the codec's
   * in-place fast path only the size is known afterwards (`bodyLength`): a transport that batches
   * its writes encodes the message straight into its batch (`writeBody`), any other reads `body`.
   */
  encodeBody(codec: MessageCodec, message: unknown): number {
    if (codec.encodedLength !== undefined && codec.encodeInto !== undefined) {
      this.bytes = undefined;
      this.codec = codec;
      this.message = message;
      return (this.bodyLength = codec.encodedLength(message));
    }
    this.bodyLength = undefined;
    this.codec = undefined;
    this.message = undefined;
    return (this.bytes = codec.encode(message)).length;
  }

  /** The request's bytes (OutboundRequest): encoded on first read when the codec encodes in place. */
  get body(): Uint8Array {
    return (this.bytes ??= this.codec!.encode(this.message));
  }

  /** OutboundRequest.writeBody: the body encoded at `target[offset…]`, right after `encodeBody` measured it. */
  writeBody(target: Uint8Array, offset: number): number {
    return this.codec!.encodeInto!(this.message, target, offset);
  }

  onResponse(body: Uint8Array, metadata: ReadonlyMap<string, string>, arrivedAt?: () => number): void {
    this.owner.answered(this, body, metadata, arrivedAt);
  }

  onError(error: RpcError): void {
    this.owner.failed(this, error);
  }

  /** The next send of this attempt, after a transparent re-send picked again. */
  /**
   * Records this attempt's failure (the error blames the endpoint), as the unary and the stream
   * path both report it to observers and the balancer before deciding on a re-send.
   */
  failWith(error: RpcError, now: number): void {
    blameEndpoint(error, this.endpoint);
    this.endReading = now;
    this.code = error.code;
    this.error = error;
    this.mayHaveRun = error.mayHaveRun;
  }

  /** gRPC's transparent retry: the request provably never ran, and re-sends and time are left. */
  mayResend(error: RpcError, now: number, transparentRetries: number): boolean {
    const inv = this.invocation;
    return error.code === Code.UNAVAILABLE && !error.mayHaveRun && this.send <= transparentRetries && now < inv.deadline && !inv.signal?.aborted;
  }

  resend(invocation: Invocation, pick: Pick, now: number): void {
    this.invocation = invocation;
    this.pick = pick;
    this.endpoint = pick.endpoint;
    this.startedAt = now;
    this.send++;
    this.code = Code.OK;
    this.error = undefined;
    this.mayHaveRun = true;
    this.endReading = undefined;
    this.bytesSent = 0;
    this.bytesReceived = 0;
  }
}
