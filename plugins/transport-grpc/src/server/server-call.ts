import { constants, type IncomingHttpHeaders } from 'node:http2';
import { Code, RpcError, type Metadata } from '@trellis/core';
import type { DeadlineEntry, PeerInfo } from '@trellis/core/spi';
import { ACCEPT_ENCODING, accepts, compress, CompressionError, decompress, type Encoding } from '../wire/compression.js';
import { frameMessage, MessageParser, type MessageSink } from '../wire/framing.js';
import { MessageQueue } from '../wire/message-queue.js';
import { appendMetadata, metadataFromHeaders } from '../wire/metadata.js';
import { encodeGrpcMessage } from '../wire/status.js';
import { writeFrame, type FrameWriter } from '../wire/write-frame.js';
import type { EngineHeaders, EngineStream } from './engine.js';
import { singleRequest, singleResponse, type GrpcMethodHandler, type GrpcMethodKind, type GrpcServerCall } from './handler.js';

/** What a call needs from the engine that runs it. */
export interface CallContext {
  readonly maxReceiveMessageSize: number;
  readonly maxSendMessageSize: number;
  /** Bytes of received, unread messages above which a streaming call pauses its HTTP/2 stream. */
  readonly receiveHighWaterBytes: number;
  addDeadline(entry: DeadlineEntry, deadline: number): void;
  removeDeadline(entry: DeadlineEntry): void;
  /** The peer of a call's connection (built only when a handler asks). */
  peerOf(session: unknown): PeerInfo;
  /** Called once per call when it is over (for drain accounting and the keepalive policy). */
  callEnded(call: ServerCall): void;
  /** Reported, never thrown: a handler that broke the protocol contract (wrong return type…). */
  reportHandlerError(call: ServerCall, message: string): void;
}

const kCall = Symbol('trellisServerCall');
type CallStream = EngineStream & { [kCall]?: ServerCall };

// Stream listeners shared by every call (the call hangs off the stream): no closures per call.
function onStreamData(this: CallStream, chunk: Buffer): void {
  this[kCall]!.onData(chunk);
}
function onStreamEnd(this: CallStream): void {
  this[kCall]!.onEnd();
}
function onStreamClose(this: CallStream): void {
  this[kCall]!.onClose();
}
const EMPTY = new Uint8Array(0);
const NOOP = () => undefined;

/** The headers every gRPC response starts with. */
function baseHeaders(): Record<string, string | string[]> {
  return { ':status': '200', 'content-type': 'application/grpc', 'grpc-accept-encoding': ACCEPT_ENCODING };
}
// node copies the header objects it is given (respond, sendTrailers), so the common ones are shared.
const PLAIN_HEADERS = Object.freeze(baseHeaders());
const OK_TRAILERS = Object.freeze({ 'grpc-status': '0' });
// No `date` header: gRPC does not use it, and it is one more header to encode and parse per call.
const RESPOND_WITH_TRAILERS = Object.freeze({ waitForTrailers: true, sendDate: false });
const RESPOND_AND_END = Object.freeze({ endStream: true, sendDate: false });

function sendTrailersOf(this: EngineStream & { trellisTrailers?: Readonly<Record<string, string | string[]>> }): void {
  const trailers = this.trellisTrailers;
  if (trailers === undefined || this.destroyed) return;
  try {
    this.sendTrailers(trailers);
  } catch {
    // The peer reset the stream between end() and now: nothing is left to tell it.
  }
}

/**
 * One inbound call: reads the request frames, runs the handler, writes headers, messages and the
 * status. Every property a handler may not read (metadata map, AbortSignal, peer) is built lazily.
 */
export class ServerCall implements GrpcServerCall, DeadlineEntry, MessageSink, FrameWriter {
  bucket = 0;
  /** The connection the call arrived on (set by the engine; its ping policy sees our writes). */
  session: { trellisPolicy?: { activity(): void } } | undefined;
  readonly kind: GrpcMethodKind;
  readonly deadline: number;
  request: Uint8Array = EMPTY;
  private requestCount = 0;
  private queue: MessageQueue | undefined;
  private readonly parser: MessageParser;
  readonly requestEncoding: Encoding;
  private responseEncoding: Encoding = 'identity';
  private metadataMap: Metadata | undefined;
  private responseHeaderMap: Metadata | undefined;
  private trailerMap: Metadata | undefined;
  private controller: AbortController | undefined;
  private abortListeners: ((reason: RpcError) => void)[] | undefined;
  private headersSent = false;
  /** Set once the status is written (or the stream is gone): nothing more may be sent. */
  private done = false;
  private abortReason: RpcError | undefined;
  private lastCompressed = false;
  /** Writes wait for this while a large message is being compressed, so order is kept. */
  private tail: Promise<void> | undefined;

  constructor(
    private readonly context: CallContext,
    private readonly stream: EngineStream,
    private readonly headers: EngineHeaders,
    readonly path: string,
    private readonly handler: GrpcMethodHandler,
    requestEncoding: Encoding,
    readonly timeoutMs: number,
  ) {
    this.kind = handler.kind;
    this.requestEncoding = requestEncoding;
    this.deadline = timeoutMs > 0 ? performance.now() + timeoutMs : Infinity;
    this.parser = new MessageParser(context.maxReceiveMessageSize, this);
    if (!singleRequest(this.kind)) {
      this.queue = new MessageQueue(stream, (bytes, compressed) => this.decodeFrame(bytes, compressed), context.receiveHighWaterBytes);
    }
  }

  /** Starts reading; a streaming-request handler runs at once, a single-request one at half-close. */
  start(): void {
    const stream = this.stream as CallStream;
    stream[kCall] = this;
    stream.on('data', onStreamData);
    // `on`, not `once`: each fires once per stream, and once() wraps every listener per call.
    stream.on('end', onStreamEnd);
    stream.on('close', onStreamClose);
    if (this.deadline !== Infinity) this.context.addDeadline(this, this.deadline);
    if (this.queue !== undefined) this.run();
  }

  // ---- GrpcServerCall ----

  get service(): string {
    return this.path.slice(1, this.path.indexOf('/', 1));
  }

  get method(): string {
    return this.path.slice(this.path.indexOf('/', 1) + 1);
  }

  get metadata(): Metadata {
    return (this.metadataMap ??= metadataFromHeaders(this.headers as IncomingHttpHeaders));
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortReason !== undefined) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  get attempt(): number {
    const previous = Number(this.headers['grpc-previous-rpc-attempts']);
    return Number.isInteger(previous) && previous > 0 ? previous + 1 : 1;
  }

  onAbort(listener: (reason: RpcError) => void): void {
    if (this.abortReason !== undefined) listener(this.abortReason);
    else (this.abortListeners ??= []).push(listener);
  }

  get peer(): PeerInfo {
    return this.context.peerOf(this.session);
  }

  get requests(): AsyncIterable<Uint8Array> {
    if (this.queue === undefined) {
      const one = this.request;
      return (async function* () {
        yield one;
      })();
    }
    return this.queue;
  }

  get requestCompressed(): boolean {
    return this.queue?.lastCompressed ?? this.lastCompressed;
  }

  get responseHeaders(): Metadata {
    return (this.responseHeaderMap ??= new Map());
  }

  get trailers(): Metadata {
    return (this.trailerMap ??= new Map());
  }

  setCompression(encoding: Encoding): void {
    if (this.headersSent) return;
    const accept = this.headers['grpc-accept-encoding'];
    this.responseEncoding = accepts(typeof accept === 'string' ? accept : accept?.[0], encoding) ? encoding : 'identity';
  }

  sendHeaders(): void {
    if (this.headersSent || this.done) return;
    this.headersSent = true;
    let headers: Readonly<Record<string, string | string[]>> = PLAIN_HEADERS;
    if (this.responseEncoding !== 'identity' || (this.responseHeaderMap !== undefined && this.responseHeaderMap.size > 0)) {
      const built = baseHeaders();
      if (this.responseEncoding !== 'identity') built['grpc-encoding'] = this.responseEncoding;
      const refused = appendMetadata(built, this.responseHeaderMap);
      if (refused !== undefined) this.context.reportHandlerError(this, `response headers not sent as given: ${refused}`);
      headers = built;
    }
    try {
      this.stream.respond(headers, RESPOND_WITH_TRAILERS);
      this.stream.on('wantTrailers', sendTrailersOf);
    } catch {
      this.cancelled(new RpcError(Code.CANCELLED, 'the stream was closed by the client'));
    }
  }

  send(message: Uint8Array, options?: { compress?: boolean }): Promise<void> {
    if (this.done) return Promise.reject(this.abortReason ?? new RpcError(Code.CANCELLED, 'the call is already finished'));
    if (message.length > this.context.maxSendMessageSize) {
      return Promise.reject(new RpcError(Code.RESOURCE_EXHAUSTED, `response message of ${message.length} bytes exceeds the send limit of ${this.context.maxSendMessageSize}`));
    }
    this.sendHeaders();
    const encoding = options?.compress === false ? 'identity' : this.responseEncoding;
    if (this.tail !== undefined) {
      const next = this.tail.then(() => this.writeMessage(message, encoding));
      this.tail = next;
      return next;
    }
    return this.writeMessage(message, encoding);
  }

  // ---- engine side ----

  /** The deadline passed: the client is told DEADLINE_EXCEEDED and the handler's signal aborts. */
  onDeadline(): void {
    const error = new RpcError(Code.DEADLINE_EXCEEDED, `deadline of ${this.timeoutMs} ms exceeded`);
    this.finish(error.code, error.message, undefined);
    this.abort(error);
  }

  /** Ends the call with a status, e.g. UNAVAILABLE when the server's grace period is over. */
  terminate(code: Code, message: string): void {
    this.finish(code, message, undefined);
    this.abort(new RpcError(code, message));
  }

  private writeMessage(message: Uint8Array, encoding: Encoding): Promise<void> {
    if (this.done) return Promise.reject(this.abortReason ?? new RpcError(Code.CANCELLED, 'the call is already finished'));
    if (encoding === 'identity') return this.writeFrame(frameMessage(message, false));
    const compressed = compress(encoding, message);
    if (!(compressed instanceof Promise)) return this.writeFrame(frameMessage(compressed, true));
    const next = compressed.then((bytes) => this.writeFrame(frameMessage(bytes, true)));
    this.tail = next.then(NOOP, NOOP);
    return next;
  }

  private writeFrame(frame: Buffer): Promise<void> {
    if (this.done) return Promise.reject(this.abortReason ?? new RpcError(Code.CANCELLED, 'the call is already finished'));
    this.session?.trellisPolicy?.activity();
    return writeFrame(this.stream, frame, this);
  }

  /** What a send waiting for drain fails with when the stream closes first (FrameWriter). */
  streamClosedError(): RpcError {
    return this.abortReason ?? new RpcError(Code.CANCELLED, 'the stream closed before the message was sent');
  }

  onData(chunk: Buffer): void {
    const error = this.parser.push(chunk);
    if (error !== undefined) this.protocolError(error.code, error.message);
  }

  onMessage(bytes: Buffer, compressed: boolean): void {
    if (this.done) return;
    if (compressed && this.requestEncoding === 'identity') {
      this.protocolError(Code.INTERNAL, 'received a compressed message but the request has no grpc-encoding');
      return;
    }
    if (this.queue !== undefined) {
      this.queue.push(bytes, compressed);
      return;
    }
    if (++this.requestCount > 1) {
      this.protocolError(Code.INTERNAL, `${this.kind} method ${this.path} received more than one request message`);
      return;
    }
    this.request = bytes;
    this.lastCompressed = compressed;
  }

  private decodeFrame(bytes: Buffer, compressed: boolean): Buffer | Promise<Buffer> {
    if (!compressed) return bytes;
    return decompress(this.requestEncoding, bytes, this.context.maxReceiveMessageSize).catch((error: unknown) => {
      const code = error instanceof CompressionError ? error.code : Code.INTERNAL;
      const message = (error as Error).message;
      this.finish(code, message, undefined);
      throw new RpcError(code, message);
    });
  }

  onEnd(): void {
    if (this.done) return;
    if (this.parser.partial) {
      this.protocolError(Code.INTERNAL, 'the request stream ended in the middle of a message');
      return;
    }
    if (this.queue !== undefined) {
      this.queue.end();
      return;
    }
    if (this.requestCount === 0) {
      this.protocolError(Code.INTERNAL, `${this.kind} method ${this.path} received no request message`);
      return;
    }
    if (this.lastCompressed) {
      decompress(this.requestEncoding, this.request as Buffer, this.context.maxReceiveMessageSize).then(
        (message) => {
          this.request = message;
          this.run();
        },
        (error: CompressionError) => this.protocolError(error.code ?? Code.INTERNAL, error.message),
      );
      return;
    }
    this.run();
  }

  onClose(): void {
    if (!this.done) this.cancelled(new RpcError(Code.CANCELLED, 'the client cancelled the call or the connection closed'));
  }

  private run(): void {
    let result: Uint8Array | void | Promise<Uint8Array | void>;
    try {
      result = this.handler.handle(this);
    } catch (error) {
      this.failed(error);
      return;
    }
    // Closures only for an asynchronous handler: a synchronous one allocates none.
    if (result instanceof Promise) result.then((response) => this.succeeded(response), (error: unknown) => this.failed(error));
    else this.succeeded(result);
  }

  private succeeded(response: Uint8Array | void): void {
    if (this.done) return;
    if (singleResponse(this.kind)) {
      if (!(response instanceof Uint8Array)) {
        this.context.reportHandlerError(this, `handler of ${this.kind} method ${this.path} returned ${typeof response}, not the response bytes`);
        this.finish(Code.INTERNAL, 'the server produced no response message', undefined);
        return;
      }
      if (this.responseEncoding === 'identity' && this.tail === undefined && response.length <= this.context.maxSendMessageSize) {
        // The hot path: headers, the one message and the trailers in as few calls as node allows.
        this.sendHeaders();
        if (this.done) return;
        this.setTrailers(Code.OK, '', this.trailerMap);
        this.stream.end(frameMessage(response, false));
        this.ended();
        return;
      }
      this.send(response).then(() => this.finish(Code.OK, '', this.trailerMap), (error: unknown) => this.failed(error));
      return;
    }
    if (this.tail !== undefined) this.tail.then(() => this.finish(Code.OK, '', this.trailerMap));
    else this.finish(Code.OK, '', this.trailerMap);
  }

  private failed(error: unknown): void {
    if (this.done) return;
    const rpc = RpcError.from(error);
    let trailers = this.trailerMap;
    if (rpc.metadata !== undefined && rpc.metadata.size > 0) {
      trailers = new Map(trailers);
      for (const [key, value] of rpc.metadata) trailers.set(key, value);
    }
    this.finish(rpc.code === Code.OK ? Code.UNKNOWN : rpc.code, rpc.message, trailers);
  }

  private protocolError(code: Code, message: string): void {
    const error = new RpcError(code, message);
    this.queue?.fail(error);
    this.finish(code, message, undefined);
    this.abort(error);
  }

  private setTrailers(code: Code, message: string, metadata: Metadata | undefined): void {
    if (code === Code.OK && message === '' && (metadata === undefined || metadata.size === 0)) {
      (this.stream as EngineStream & { trellisTrailers?: Readonly<Record<string, string | string[]>> }).trellisTrailers = OK_TRAILERS;
      return;
    }
    const trailers: Record<string, string | string[]> = { 'grpc-status': String(code) };
    if (message !== '') trailers['grpc-message'] = encodeGrpcMessage(message);
    const refused = appendMetadata(trailers, metadata);
    if (refused !== undefined) this.context.reportHandlerError(this, `trailers not sent as given: ${refused}`);
    (this.stream as EngineStream & { trellisTrailers?: Readonly<Record<string, string | string[]>> }).trellisTrailers = trailers;
  }

  /** Writes the status: in the trailers, or as a Trailers-Only response when no header went out. */
  private finish(code: Code, message: string, metadata: Metadata | undefined): void {
    if (this.done) return;
    const stream = this.stream;
    if (stream.destroyed || stream.closed) {
      this.ended();
      return;
    }
    try {
      if (this.headersSent) {
        this.setTrailers(code, message, metadata);
        stream.end();
      } else {
        this.headersSent = true;
        const headers = baseHeaders();
        headers['grpc-status'] = String(code);
        if (message !== '') headers['grpc-message'] = encodeGrpcMessage(message);
        const refused = appendMetadata(headers, this.responseHeaderMap) ?? appendMetadata(headers, metadata);
        if (refused !== undefined) this.context.reportHandlerError(this, `metadata not sent as given: ${refused}`);
        stream.respond(headers, RESPOND_AND_END);
      }
    } catch {
      // The stream went away while we answered; the close handler accounts for it.
    }
    this.ended();
    // Whatever the client still sends is read and dropped, so its flow-control window keeps moving.
    if (!stream.readableEnded) stream.resume();
  }

  private ended(): void {
    if (this.done) return;
    this.done = true;
    if (this.deadline !== Infinity) this.context.removeDeadline(this);
    this.context.callEnded(this);
  }

  private cancelled(reason: RpcError): void {
    this.ended();
    this.abortReason ??= reason;
    this.queue?.fail(reason);
    this.abort(reason);
    const stream = this.stream;
    if (!stream.destroyed) stream.close(constants.NGHTTP2_CANCEL);
  }

  private abort(reason: RpcError): void {
    this.abortReason ??= reason;
    const listeners = this.abortListeners;
    this.abortListeners = undefined;
    if (listeners !== undefined) for (const listener of listeners) listener(this.abortReason);
    if (this.controller !== undefined && !this.controller.signal.aborted) this.controller.abort(this.abortReason);
  }
}
