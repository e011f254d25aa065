import { constants, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { Code, RpcError, type Metadata } from '@trellis/core';
import type { DeadlineEntry } from '@trellis/core/spi';
import { ACCEPT_ENCODING, compress, CompressionError, decompress, isEncoding, type Encoding } from '../wire/compression.js';
import { frameMessage, MessageParser, type MessageSink } from '../wire/framing.js';
import { MessageQueue } from '../wire/message-queue.js';
import { appendMetadata, metadataFromHeaders } from '../wire/metadata.js';
import { codeFromHttpStatus, decodeGrpcMessage, parseGrpcStatus } from '../wire/status.js';
import { formatGrpcTimeout } from '../wire/timeout.js';
import { writeFrame, type FrameWriter } from '../wire/write-frame.js';
import type { Connection, GrpcChannel } from './channel.js';

export interface GrpcCallOptions {
  /** Request metadata (`-bin` keys carry base64). Reserved keys are refused with INVALID_ARGUMENT. */
  readonly metadata?: ReadonlyMap<string, string>;
  /** The call's deadline, relative (sent as `grpc-timeout`); default: none. */
  readonly timeoutMs?: number;
  /** Aborting cancels the call (RST_STREAM CANCEL); it fails with CANCELLED. */
  readonly signal?: AbortSignal;
  /** Compress request messages with this encoding (`grpc-encoding`); default identity. */
  readonly compression?: Encoding;
  /** Attempts made before this one (a retry), sent as `grpc-previous-rpc-attempts`. */
  readonly previousAttempts?: number;
}

/** The outcome of a call: its status and the metadata received. */
export interface GrpcStatus {
  readonly code: Code;
  readonly message: string;
  readonly headers: Metadata;
  readonly trailers: Metadata;
}

/** A unary (or client-streaming) call's response. */
export interface GrpcResponse {
  readonly message: Buffer;
  /** Whether the response message arrived compressed (its flag was set). */
  readonly compressed: boolean;
  /** The response's `grpc-encoding` (identity when it named none). */
  readonly encoding: Encoding;
  readonly headers: Metadata;
  readonly trailers: Metadata;
}

export interface CallLimits {
  readonly maxReceiveMessageSize: number;
  readonly maxSendMessageSize: number;
  readonly receiveHighWaterBytes: number;
  readonly userAgent: string;
  addDeadline(entry: DeadlineEntry, deadline: number): void;
  removeDeadline(entry: DeadlineEntry): void;
}

const EMPTY: Metadata = new Map();
const kCall = Symbol('trellisClientCall');
type CallStream = ClientHttp2Stream & { [kCall]?: ClientCall };

// Stream listeners shared by every call (the call hangs off the stream): no closures per call.
function onStreamResponse(this: CallStream, headers: IncomingHttpHeaders, flags: number): void {
  this[kCall]!.onResponse(headers, flags);
}
function onStreamData(this: CallStream, chunk: Buffer): void {
  this[kCall]!.onData(chunk);
}
function onStreamTrailers(this: CallStream, trailers: IncomingHttpHeaders): void {
  this[kCall]!.onTrailers(trailers);
}
function onStreamClose(this: CallStream): void {
  this[kCall]!.onClose();
}
function onStreamError(): void {
  // The outcome is decided on 'close', which always follows.
}

/** RST_STREAM codes as gRPC statuses ("Errors" in gRPC over HTTP/2). */
function codeFromReset(rstCode: number): Code {
  switch (rstCode) {
    case constants.NGHTTP2_REFUSED_STREAM: return Code.UNAVAILABLE;
    case constants.NGHTTP2_CANCEL: return Code.CANCELLED;
    case constants.NGHTTP2_ENHANCE_YOUR_CALM: return Code.RESOURCE_EXHAUSTED;
    case constants.NGHTTP2_INADEQUATE_SECURITY: return Code.PERMISSION_DENIED;
    default: return Code.INTERNAL;
  }
}

/**
 * One outbound call on an HTTP/2 stream. Single-response calls collect their message into a
 * promise; streaming-response calls feed a MessageQueue the caller iterates. The status, trailers
 * and whether the request may have run are settled once, on whichever event comes first: trailers,
 * a reset, a GOAWAY, the deadline or the caller's abort.
 */
export class ClientCall implements DeadlineEntry, MessageSink, FrameWriter {
  bucket = 0;
  private stream: ClientHttp2Stream | undefined;
  private connection: Connection | undefined;
  private readonly parser: MessageParser;
  private responseEncoding: Encoding = 'identity';
  private responseHeaders: Metadata = EMPTY;
  private headersReceived = false;
  private httpStatus = 0;
  private grpcContentType = true;
  private message: Buffer | undefined;
  private messageCount = 0;
  private messageCompressed = false;
  private settled = false;
  private deadlineTimer = false;
  private localError: RpcError | undefined;
  private readonly queue: MessageQueue | undefined;
  private onSettled: ((status: GrpcStatus, error: RpcError | undefined) => void) | undefined;
  private headerWaiters: ((headers: Metadata) => void)[] | undefined;
  /** Set when the server accepted the call: response headers without a status (not Trailers-Only). */
  private accepted = false;
  private acceptWaiters: { resolve(headers: Metadata): void; reject(error: RpcError): void }[] | undefined;
  private settledError: RpcError | undefined;
  private readonly timeoutMs: number;

  constructor(
    private readonly channel: GrpcChannel,
    private readonly path: string,
    private readonly options: GrpcCallOptions,
    private readonly limits: CallLimits,
    streamingResponse: boolean,
  ) {
    this.timeoutMs = options.timeoutMs ?? 0;
    this.parser = new MessageParser(limits.maxReceiveMessageSize, this);
    if (streamingResponse) {
      this.queue = new MessageQueue(
        { pause: () => this.stream?.pause(), resume: () => this.stream?.resume() },
        (bytes, compressed) => (compressed ? this.decompress(bytes) : bytes),
        limits.receiveHighWaterBytes,
      );
    }
  }

  /** Opens the stream. Any failure settles the call (never ran) instead of throwing. */
  start(settle: (status: GrpcStatus, error: RpcError | undefined) => void): void {
    this.onSettled = settle;
    const signal = this.options.signal;
    if (signal?.aborted) return this.fail(new RpcError(Code.CANCELLED, 'call cancelled before it started', { mayHaveRun: false }));
    if (this.options.timeoutMs !== undefined && !(this.timeoutMs > 0)) {
      return this.fail(new RpcError(Code.DEADLINE_EXCEEDED, 'deadline exceeded before the call was sent', { mayHaveRun: false }));
    }
    const headers: OutgoingHttpHeaders = {
      ':method': 'POST',
      ':scheme': this.channel.target.tls ? 'https' : 'http',
      ':path': this.path,
      ':authority': this.channel.authority,
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': this.limits.userAgent,
      'grpc-accept-encoding': ACCEPT_ENCODING,
    };
    if (this.timeoutMs > 0) headers['grpc-timeout'] = formatGrpcTimeout(this.timeoutMs);
    const previous = this.options.previousAttempts;
    if (previous !== undefined && previous > 0) headers['grpc-previous-rpc-attempts'] = String(previous);
    const encoding = this.options.compression;
    if (encoding !== undefined && encoding !== 'identity') headers['grpc-encoding'] = encoding;
    const refused = appendMetadata(headers as Record<string, string>, this.options.metadata);
    if (refused !== undefined) return this.fail(new RpcError(Code.INVALID_ARGUMENT, refused, { mayHaveRun: false }));
    let connection: Connection;
    let stream: ClientHttp2Stream;
    try {
      connection = this.channel.connection();
      // No options object: POST already leaves the stream open, and node's handling of an options
      // object (copied, then priority defaults added to it) cost ~14 µs per call in profiles.
      stream = connection.request(headers);
    } catch (error) {
      return this.fail(error instanceof RpcError ? error : new RpcError(Code.UNAVAILABLE, `cannot open a stream to ${this.channel.key}: ${(error as Error).message}`, { mayHaveRun: false }));
    }
    this.connection = connection;
    this.stream = stream;
    this.channel.hold(connection);
    (stream as CallStream)[kCall] = this;
    // `on`, not `once`: each fires once per stream, and once() wraps every listener per call.
    stream.on('response', onStreamResponse);
    stream.on('data', onStreamData);
    stream.on('trailers', onStreamTrailers);
    stream.on('close', onStreamClose);
    stream.on('error', onStreamError);
    if (this.timeoutMs > 0) {
      this.deadlineTimer = true;
      this.limits.addDeadline(this, performance.now() + this.timeoutMs);
    }
    if (signal !== undefined) {
      this.onAbort = () => {
        const reason = signal.reason;
        this.cancel(reason instanceof RpcError ? reason : new RpcError(Code.CANCELLED, 'call cancelled by the caller', { mayHaveRun: this.stream?.id !== undefined }));
      };
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  /** Sends one request message; resolves when the stream's buffer has room (flow control). */
  send(message: Uint8Array, compressMessage = true): Promise<void> {
    const stream = this.stream;
    if (this.settled || stream === undefined) return Promise.reject(this.localError ?? new RpcError(Code.CANCELLED, 'the call is over'));
    if (message.length > this.limits.maxSendMessageSize) {
      const error = new RpcError(Code.RESOURCE_EXHAUSTED, `request message of ${message.length} bytes exceeds the send limit of ${this.limits.maxSendMessageSize}`, { mayHaveRun: this.messageCount > 0 });
      this.cancel(error);
      return Promise.reject(error);
    }
    const encoding = this.options.compression;
    if (encoding !== undefined && encoding !== 'identity' && compressMessage) {
      const compressed = compress(encoding, message);
      if (compressed instanceof Promise) return compressed.then((bytes) => this.write(frameMessage(bytes, true)));
      return this.write(frameMessage(compressed, true));
    }
    return this.write(frameMessage(message, false));
  }

  /** Half-close: no more request messages. */
  end(): void {
    const stream = this.stream;
    if (stream !== undefined && !this.settled && !stream.writableEnded) stream.end();
  }

  /** Sends the only request message and half-closes, in one write. */
  sendLast(message: Uint8Array): void {
    const stream = this.stream;
    if (stream === undefined || this.settled) return;
    const encoding = this.options.compression;
    if (message.length > this.limits.maxSendMessageSize) {
      this.cancel(new RpcError(Code.RESOURCE_EXHAUSTED, `request message of ${message.length} bytes exceeds the send limit of ${this.limits.maxSendMessageSize}`, { mayHaveRun: false }));
      return;
    }
    if (encoding === undefined || encoding === 'identity') {
      stream.end(frameMessage(message, false));
      return;
    }
    const compressed = compress(encoding, message);
    if (compressed instanceof Promise) {
      compressed.then((bytes) => !this.settled && stream.end(frameMessage(bytes, true)), (error: Error) => this.cancel(new RpcError(Code.INTERNAL, `compression failed: ${error.message}`, { mayHaveRun: false })));
    } else {
      stream.end(frameMessage(compressed, true));
    }
  }

  /**
   * Cancels the call: the call fails with `error` at once and the server gets RST_STREAM CANCEL.
   * The outcome does not wait for the stream's 'close' event: node sometimes never emits it for a
   * stream closed right after it was opened (2 of 30 cancel_after_begin runs against gRPC C-core
   * hung on it), so the call settles now and a stream that has not closed a moment later is destroyed.
   */
  cancel(error: RpcError): void {
    if (this.settled || this.localError !== undefined) return;
    this.localError = error;
    const stream = this.stream;
    if (stream !== undefined && !stream.destroyed && !stream.closed) {
      stream.close(constants.NGHTTP2_CANCEL);
      setTimeout(() => {
        if (!stream.destroyed) stream.destroy();
      }, 1000).unref();
    }
    this.fail(error);
  }

  onDeadline(): void {
    this.deadlineTimer = false;
    this.cancel(new RpcError(Code.DEADLINE_EXCEEDED, `deadline of ${this.timeoutMs} ms exceeded`, { mayHaveRun: this.stream?.id !== undefined }));
  }

  /** Response messages of a streaming-response call. */
  get messages(): MessageQueue {
    return this.queue!;
  }

  /** The response headers (resolves with empty metadata when the call ended without any). */
  headers(): Promise<Metadata> {
    if (this.headersReceived || this.settled) return Promise.resolve(this.responseHeaders);
    return new Promise((resolve) => (this.headerWaiters ??= []).push(resolve));
  }

  /**
   * The response headers once the server accepted the call (headers without a status); rejects
   * with the call's error when it ended before that (refused, Trailers-Only error status). A call
   * that ended OK without a header block (Trailers-Only OK) resolves with its headers.
   */
  acceptedHeaders(): Promise<Metadata> {
    if (this.accepted) return Promise.resolve(this.responseHeaders);
    if (this.settled) return this.settledError === undefined ? Promise.resolve(this.responseHeaders) : Promise.reject(this.settledError);
    return new Promise((resolve, reject) => (this.acceptWaiters ??= []).push({ resolve, reject }));
  }

  /** The single response message (unary, client-streaming), once the call ended OK. */
  get response(): { message: Buffer | undefined; compressed: boolean; encoding: Encoding } {
    return { message: this.message, compressed: this.messageCompressed, encoding: this.responseEncoding };
  }

  get lastMessageCompressed(): boolean {
    return this.queue?.lastCompressed ?? this.messageCompressed;
  }

  private write(frame: Buffer): Promise<void> {
    const stream = this.stream!;
    if (this.settled || stream.writableEnded) return Promise.reject(this.localError ?? new RpcError(Code.CANCELLED, 'the call is over'));
    return writeFrame(stream, frame, this);
  }

  /** What a send waiting for drain fails with when the stream closes first (FrameWriter). */
  streamClosedError(): RpcError {
    return this.localError ?? new RpcError(Code.CANCELLED, 'the stream closed before the message was sent');
  }

  private decompress(bytes: Buffer): Promise<Buffer> {
    return decompress(this.responseEncoding, bytes, this.limits.maxReceiveMessageSize).catch((error: unknown) => {
      const rpc = new RpcError(error instanceof CompressionError ? error.code : Code.INTERNAL, (error as Error).message);
      this.cancel(rpc);
      throw rpc;
    });
  }

  onResponse(headers: IncomingHttpHeaders, flags: number): void {
    this.headersReceived = true;
    this.httpStatus = Number(headers[':status']);
    const contentType = headers['content-type'];
    this.grpcContentType = typeof contentType === 'string' && contentType.startsWith('application/grpc');
    const encoding = headers['grpc-encoding'];
    if (typeof encoding === 'string' && encoding !== 'identity') {
      if (!isEncoding(encoding)) {
        this.cancel(new RpcError(Code.INTERNAL, `the server compressed with "${encoding}", which this client does not support`));
        return;
      }
      this.responseEncoding = encoding;
    }
    this.responseHeaders = metadataFromHeaders(headers);
    if (this.headerWaiters !== undefined) for (const resolve of this.headerWaiters.splice(0)) resolve(this.responseHeaders);
    if (headers['grpc-status'] === undefined && this.httpStatus === 200 && this.grpcContentType) {
      this.accepted = true;
      if (this.acceptWaiters !== undefined) for (const waiter of this.acceptWaiters.splice(0)) waiter.resolve(this.responseHeaders);
    }
    // Trailers-Only: the status is in these headers.
    if (headers['grpc-status'] !== undefined) {
      this.onTrailers(headers);
      return;
    }
    // Not a gRPC response (a proxy's error page, a plain HTTP server): its body is not gRPC frames.
    if (this.httpStatus !== 200 || !this.grpcContentType) {
      const code = this.httpStatus !== 200 ? codeFromHttpStatus(this.httpStatus) : Code.UNKNOWN;
      this.cancel(new RpcError(code, `${this.channel.key} answered HTTP ${this.httpStatus} without a gRPC status${this.grpcContentType ? '' : ' (not a gRPC content-type)'}`));
      return;
    }
    if (flags & constants.NGHTTP2_FLAG_END_STREAM) this.onTrailers(headers);
  }

  onData(chunk: Buffer): void {
    if (this.localError !== undefined) return;
    const error = this.parser.push(chunk);
    if (error !== undefined) this.cancel(new RpcError(error.code, error.message));
  }

  onMessage(bytes: Buffer, compressed: boolean): void {
    if (this.settled) return;
    if (compressed && this.responseEncoding === 'identity') {
      this.cancel(new RpcError(Code.INTERNAL, 'received a compressed message but the response has no grpc-encoding'));
      return;
    }
    if (this.queue !== undefined) {
      this.queue.push(bytes, compressed);
      return;
    }
    if (++this.messageCount > 1) {
      this.cancel(new RpcError(Code.INTERNAL, `the server sent more than one response message for ${this.path}`));
      return;
    }
    this.message = bytes;
    this.messageCompressed = compressed;
  }

  onTrailers(trailers: IncomingHttpHeaders): void {
    if (this.settled) return;
    const code = parseGrpcStatus(trailers['grpc-status'] as string | undefined);
    if (code === undefined) return;
    const raw = trailers['grpc-message'];
    const message = typeof raw === 'string' ? decodeGrpcMessage(raw) : '';
    const metadata = trailers === undefined ? EMPTY : metadataFromHeaders(trailers);
    if (code !== Code.OK) {
      this.finish({ code, message, headers: this.responseHeaders, trailers: metadata }, new RpcError(code, message, { metadata }));
      return;
    }
    if (this.parser.partial) {
      this.finish({ code: Code.INTERNAL, message: 'the response ended in the middle of a message', headers: this.responseHeaders, trailers: metadata }, new RpcError(Code.INTERNAL, 'the response ended in the middle of a message', { metadata }));
      return;
    }
    if (this.queue === undefined && this.messageCount === 0) {
      const error = new RpcError(Code.INTERNAL, `the server sent status OK but no response message for ${this.path}`, { metadata });
      this.finish({ code: Code.INTERNAL, message: error.message, headers: this.responseHeaders, trailers: metadata }, error);
      return;
    }
    if (this.queue === undefined && this.messageCompressed) {
      // The status is known; the message is decompressed before the call settles.
      this.decompress(this.message!).then(
        (message) => {
          this.message = message;
          this.finish({ code, message: '', headers: this.responseHeaders, trailers: metadata }, undefined);
        },
        (error: RpcError) => this.finish({ code: error.code, message: error.message, headers: this.responseHeaders, trailers: metadata }, error),
      );
      this.statusPending = true;
      return;
    }
    this.finish({ code, message, headers: this.responseHeaders, trailers: metadata }, undefined);
  }

  private statusPending = false;

  onClose(): void {
    this.channel.release(this.connection!);
    if (this.settled || this.statusPending) return;
    const stream = this.stream!;
    if (this.localError !== undefined) return this.fail(this.localError);
    const connection = this.connection!;
    const neverSent = !connection.trellisConnected || stream.id === undefined ||
      (connection.trellisLastStreamId !== undefined && stream.id > connection.trellisLastStreamId) ||
      stream.rstCode === constants.NGHTTP2_REFUSED_STREAM;
    if (neverSent) {
      return this.fail(new RpcError(Code.UNAVAILABLE, `${this.channel.key} refused the call before it ran (${connection.trellisConnected ? 'GOAWAY or REFUSED_STREAM' : 'not connected'})`, { mayHaveRun: false }));
    }
    if (this.headersReceived && (this.httpStatus !== 200 || !this.grpcContentType)) {
      const code = this.httpStatus !== 200 ? codeFromHttpStatus(this.httpStatus) : Code.UNKNOWN;
      return this.fail(new RpcError(code, `${this.channel.key} answered HTTP ${this.httpStatus} without a gRPC status${this.grpcContentType ? '' : ' (not a gRPC content-type)'}`));
    }
    const rst = stream.rstCode ?? 0;
    // A connection that died (the peer killed, a reset socket) closes its streams with a local
    // INTERNAL_ERROR code no server sent: that is the connection's loss, UNAVAILABLE as in gRPC.
    if (connection.destroyed && (rst === 0 || rst === constants.NGHTTP2_INTERNAL_ERROR)) {
      return this.fail(new RpcError(Code.UNAVAILABLE, `the connection to ${this.channel.key} was lost during the call`));
    }
    if (rst !== 0 && rst !== constants.NGHTTP2_NO_ERROR) {
      return this.fail(new RpcError(codeFromReset(rst), `the server reset the stream (HTTP/2 error ${rst})`));
    }
    if (connection.destroyed || connection.closed) {
      return this.fail(new RpcError(Code.UNAVAILABLE, `the connection to ${this.channel.key} closed during the call`));
    }
    this.fail(new RpcError(Code.INTERNAL, `the server closed the stream without a gRPC status`));
  }

  private onAbort: (() => void) | undefined;

  private fail(error: RpcError): void {
    this.finish({ code: error.code, message: error.message, headers: this.responseHeaders, trailers: error.metadata instanceof Map ? error.metadata : EMPTY }, error);
  }

  private finish(status: GrpcStatus, error: RpcError | undefined): void {
    if (this.settled) return;
    this.settled = true;
    this.statusPending = false;
    if (this.deadlineTimer) this.limits.removeDeadline(this);
    if (this.onAbort !== undefined) this.options.signal?.removeEventListener('abort', this.onAbort);
    if (this.headerWaiters !== undefined) for (const resolve of this.headerWaiters.splice(0)) resolve(this.responseHeaders);
    this.settledError = error;
    if (this.acceptWaiters !== undefined) {
      for (const waiter of this.acceptWaiters.splice(0)) {
        if (error === undefined) waiter.resolve(this.responseHeaders);
        else waiter.reject(error);
      }
    }
    if (this.queue !== undefined) {
      if (error === undefined) this.queue.end();
      else this.queue.fail(error);
    }
    const stream = this.stream;
    // Anything the server still sends after the status is read and dropped.
    if (stream !== undefined && !stream.destroyed && !stream.closed && (error !== undefined || !stream.writableEnded)) {
      stream.close(error === undefined ? constants.NGHTTP2_NO_ERROR : constants.NGHTTP2_CANCEL);
    }
    this.onSettled?.(status, error);
  }
}
