import type { Socket } from 'node:net';
import { Code, RpcError } from '../errors.js';
import { NO_METADATA, type Metadata } from '../metadata.js';
import type { InboundRequest, PeerInfo, RequestHandler, ServerExchange } from '../transport.js';
import type { MessageWriter, StreamHandler } from '../transport-stream.js';
import { encodeBareFrame, FIXED_HEADER_SIZE, FRAME_TYPE_NAMES, FrameType, PROTOCOL_VERSION, type FrameLimits } from './frame.js';
import { FrameDecoder, type FrameSink, type PartialFrameBudget } from './frame-decoder.js';
import {
  createHeaderMemo, decodeRequestHeader, decodeRequestHeaderInto, isReceivedMetadata, decodeResponseHeader, encodeResponseFrame, fitResponseFrame, PLAIN_RESPONSE_PREFIX,
  plainResponseSize, writePlainResponseHeader,
} from './header-codec.js';
import { DEFAULT_MAX_PINGS_PER_SECOND, PingRateLimit } from './ping-rate-limit.js';
import { WireError } from './proto-wire.js';
import { ReceiveRateGuard, type ReceiveRateOptions } from './receive-rate-guard.js';
import { CAPABILITY_STREAMS, decodeSettings, DEFAULT_MAX_OPEN_STREAMS, DEFAULT_SETTINGS, DEFAULT_STREAM_WINDOW, encodeSettingsFrame, type Settings } from './settings.js';
import { encodeWindowUpdateFrame, FLAGS_OFFSET, fitStreamStatusFrame, streamKindOf, writeEncodedMessageFrame, writeStreamMessageFrame } from './stream-frames.js';
import type { StreamSender } from './stream-sender.js';
import { TcpServerStream, type ServerStreamHost } from './server-stream.js';
import { MessageCopier } from './message-copier.js';
import { WriteBatcher } from './write-batcher.js';
import { CallTable } from './call-table.js';

export interface ServerConnectionOptions {
  readonly limits: FrameLimits;
  /** Requests in flight on one connection before new ones are refused (default 1000). */
  readonly maxConcurrentStreams: number;
  readonly onError: (peer: PeerInfo, message: string) => void;
  /** Close a connection that sends no complete SETTINGS frame within this (slowloris). */
  readonly firstFrameTimeoutMs: number;
  /** Retire a connection that received no frame and had nothing in flight for this long; 0 = never. */
  readonly idleTimeoutMs: number;
  /** Authenticated identity from the TLS layer. */
  readonly identity: string | undefined;
  /** PINGs per second before the connection is closed with GOAWAY RESOURCE_EXHAUSTED (default 100). */
  readonly maxPingsPerSecond?: number;
  /** How fast a frame that started must keep arriving (default 16 KiB/s over 5 s windows). */
  readonly minReceiveRate?: ReceiveRateOptions;
  /** Outgoing bytes not yet taken by the kernel above which the connection stops reading (default 1 MiB). */
  readonly writeHighWaterMark?: number;
  /**
   * Bytes of requests whose handlers are still running above which the connection stops reading
   * until some finish (default 16 MiB; one request is always admitted).
   */
  readonly maxInflightRequestBytes?: number;
  /** The server-wide cap on bytes held in partial frames (none: only the frame limits bound them). */
  readonly partialFrameBudget?: PartialFrameBudget;
  readonly now?: () => number;
  /** Serves stream opens; without it the server announces no streams and refuses opens (UNIMPLEMENTED). */
  readonly streams?: StreamHandler;
  /** Streams open at once per connection (default 1000); more are refused RESOURCE_EXHAUSTED, never ran. */
  readonly maxOpenStreams?: number;
  /** Receive credit per stream granted to clients, bytes (default 64 KiB). */
  readonly streamWindow?: number;
}

export const DEFAULT_MIN_RECEIVE_RATE: ReceiveRateOptions = { minBytesPerSecond: 16 * 1024, windowMs: 5000 };
export const DEFAULT_WRITE_HIGH_WATER_MARK = 1024 * 1024;
export const DEFAULT_MAX_INFLIGHT_REQUEST_BYTES = 16 * 1024 * 1024;

/**
 * One in-flight request; the object the server core answers through, and the request it is handed
 * (one object per request: the header is decoded into it). Never throws.
 */
class Exchange implements ServerExchange, InboundRequest {
  onCancel: ((reason: RpcError) => void) | undefined = undefined;
  finished = false;
  // InboundRequest
  group = '';
  service = '';
  version = '';
  method = '';
  body!: Uint8Array;
  timeoutMs = 0;
  attempt = 1;
  /**
   * The request's metadata as decodeRequestHeaderInto set it: a Map of its own, or the connection's
   * shared read-only entries when they were byte for byte the previous request's (no Map per request
   * for a credential every call repeats, until somebody asks for a mutable `metadata`).
   */
  private entries: Metadata | ReadonlyMap<string, string> | undefined = undefined;

  constructor(private readonly connection: ServerConnection, readonly streamId: number, readonly size: number, readonly peer: PeerInfo) {}

  /**
   * The request's own Map, made when first read: a copy of the shared entries, or empty when the
   * header carried none (most requests' metadata is never read by their handler).
   */
  get metadata(): Metadata {
    const entries = this.entries;
    if (entries === undefined) return (this.entries = new Map());
    if (isReceivedMetadata(entries)) return (this.entries = new Map(entries));
    return entries as Metadata;
  }

  set metadata(metadata: Metadata) {
    this.entries = metadata;
  }

  /** Set instead of `metadata` for a repeated block (one field holds either). */
  set receivedMetadata(shared: ReadonlyMap<string, string> | undefined) {
    if (shared !== undefined) this.entries = shared;
  }

  /** The entries read-only, with no copy: the request's own Map once made, else the shared one. */
  get requestMetadata(): ReadonlyMap<string, string> {
    return this.entries ?? NO_METADATA;
  }

  respond(body: Uint8Array, metadata: Metadata | undefined, headers?: Metadata): void {
    if (this.finished) return;
    this.finished = true;
    // One metadata block per unary response on this protocol: headers go under the trailers.
    if (headers !== undefined && headers.size > 0) metadata = metadata === undefined ? headers : new Map([...headers, ...metadata]);
    this.connection.finish(this, Code.OK, '', false, metadata, body);
  }

  respondEncoded(length: number, encoder: MessageWriter, message: unknown, metadata: Metadata | undefined, headers?: Metadata): void {
    if (this.finished) return;
    this.finished = true;
    if (headers !== undefined && headers.size > 0) metadata = metadata === undefined ? headers : new Map([...headers, ...metadata]);
    this.connection.finishEncoded(this, length, encoder, message, metadata);
  }

  fail(error: RpcError): void {
    if (this.finished) return;
    this.finished = true;
    // Anything a handler produced must go out as a valid status: a code outside the range becomes UNKNOWN.
    const code = Number.isInteger(error?.code) && error.code > 0 && error.code <= 0x7fffffff ? error.code : Code.UNKNOWN;
    const message = typeof error?.message === 'string' ? error.message : String(error?.message ?? '');
    this.connection.finish(this, code, message, error?.mayHaveRun === false, error?.metadata as Metadata | undefined, undefined);
  }
}

/**
 * The server side of one connection: the SETTINGS handshake, decoding frames, handing requests to
 * the server core, answering PING, routing CANCEL, and — after GOAWAY — refusing new requests as
 * "not executed" so the client may safely send them elsewhere.
 *
 * A frame that is wrong for one call (too large, undecodable header) is answered for that call only;
 * only framing violations close the connection. Answers are fitted to the client's announced limits,
 * so nothing a handler returns can fail to encode. The connection stops reading while its outgoing
 * buffer is past the high-water mark (a peer that does not read cannot make the server buffer without
 * bound), and closes peers that flood PINGs or dribble frames.
 */
export class ServerConnection implements FrameSink, ServerStreamHost {
  private readonly decoder: FrameDecoder;
  /** Owned copies of received stream messages (several to one copy; released after each read). */
  private readonly messages = new MessageCopier();
  private readonly batcher: WriteBatcher;
  private readonly inflight = new CallTable<Exchange>();
  private goingAway: string | undefined;
  /** Handed over (another process keeps serving the address): requests that cross the GOAWAY still run. */
  private handingOver = false;
  readonly peer: PeerInfo;
  /** The client's SETTINGS (what it accepts): answers are fitted to them. */
  private client: Settings | undefined;
  private isClosed = false;
  private closing = false;
  private readonly closeWaiters: (() => void)[] = [];
  private readonly headerMemo = createHeaderMemo();
  private firstFrameTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Frames received, for the idle check (a counter costs nothing per frame; a clock read would). */
  private frames = 0;
  private framesAtLastCheck = 0;
  private quietChecks = 0;
  private readonly pingLimit: PingRateLimit;
  private readonly maxPingsPerSecond: number;
  private readonly rateGuard: ReceiveRateGuard;
  /** Bytes of the requests in `inflight`, and the cap above which reading stops. */
  private inflightBytes = 0;
  private readonly maxInflightBytes: number;
  /** Why reading is paused: the peer is not taking our answers / we hold too many requests. */
  private pausedForWrites = false;
  private pausedForInflight = false;
  /** Open streams, by id (issue #18). */
  private readonly streams = new Map<number, TcpServerStream>();
  private readonly maxOpenStreams: number;
  private readonly streamWindow: number;
  /** Stream senders waiting for the socket to drain below the high-water mark. */
  private blockedSenders: StreamSender[] = [];

  constructor(
    private readonly socket: Socket,
    private readonly handler: RequestHandler,
    private readonly options: ServerConnectionOptions,
    private readonly onClose: (connection: ServerConnection) => void,
  ) {
    socket.setNoDelay(true);
    this.peer = { host: socket.remoteAddress ?? 'unknown', port: socket.remotePort ?? 0, identity: options.identity };
    this.firstFrameTimer = setTimeout(
      () => this.onProtocolError(`no complete frame within ${options.firstFrameTimeoutMs} ms (handshakeTimeoutMs): a client opens with SETTINGS`),
      options.firstFrameTimeoutMs,
    );
    this.firstFrameTimer.unref();
    if (options.idleTimeoutMs > 0) this.armIdleCheck();
    this.decoder = new FrameDecoder(options.limits, this, options.partialFrameBudget);
    this.batcher = new WriteBatcher(socket, options.writeHighWaterMark ?? DEFAULT_WRITE_HIGH_WATER_MARK, (high) => this.onWritePressure(high));
    this.maxPingsPerSecond = options.maxPingsPerSecond ?? DEFAULT_MAX_PINGS_PER_SECOND;
    this.pingLimit = new PingRateLimit(this.maxPingsPerSecond, options.now ?? Date.now);
    this.rateGuard = new ReceiveRateGuard(this.decoder, options.minReceiveRate ?? DEFAULT_MIN_RECEIVE_RATE, (message) => this.closeForAbuse(message));
    this.maxInflightBytes = options.maxInflightRequestBytes ?? DEFAULT_MAX_INFLIGHT_REQUEST_BYTES;
    this.maxOpenStreams = options.maxOpenStreams ?? DEFAULT_MAX_OPEN_STREAMS;
    this.streamWindow = options.streamWindow ?? DEFAULT_STREAM_WINDOW;
    socket.on('data', (chunk: Buffer) => {
      this.decoder.push(chunk);
      this.messages.release();
      this.rateGuard.afterData();
      if (this.inflightBytes > this.maxInflightBytes && !this.pausedForInflight) {
        this.pausedForInflight = true;
        this.updateReading();
      }
    });
    socket.on('error', () => { /* 'close' follows; a peer reset is not a server error */ });
    socket.on('close', () => this.onSocketClosed());
  }

  get inflightCount(): number {
    return this.inflight.size;
  }

  get openStreamCount(): number {
    return this.streams.size;
  }

  onFrame(type: FrameType, streamId: number, buf: Buffer, headerStart: number, headerEnd: number, bodyEnd: number): void {
    this.frames++;
    if (this.client === undefined) return this.onFirstFrame(type, buf, headerStart, headerEnd);
    switch (type) {
      case FrameType.REQUEST:
        return this.onRequest(streamId, buf, headerStart, headerEnd, bodyEnd);
      case FrameType.CANCEL:
        return this.onCancelFrame(streamId, buf, headerStart, headerEnd);
      case FrameType.PING:
        if (!this.pingLimit.allow()) {
          return this.closeForAbuse(`more than ${this.maxPingsPerSecond} PINGs in a second (maxPingsPerSecond)`);
        }
        this.batcher.write(encodeBareFrame(FrameType.PONG, 0, buf.subarray(headerEnd, bodyEnd)));
        return;
      case FrameType.PONG:
        return;
      case FrameType.STREAM_MESSAGE:
        return this.onStreamMessage(streamId, buf, headerEnd, bodyEnd);
      case FrameType.WINDOW_UPDATE:
        return this.onStreamWindowUpdate(streamId, buf.readUInt32BE(headerEnd));
      case FrameType.STREAM_HALF_CLOSE:
        return this.onStreamHalfClose(streamId);
      case FrameType.STREAM_OPEN:
        return this.onStreamOpen(streamId, buf, headerStart, headerEnd);
      default:
        return this.onProtocolError(`unexpected frame type ${FRAME_TYPE_NAMES[type]} from a client`);
    }
  }

  /** A REQUEST over this server's limits: answered for its stream alone, its payload skipped unread. */
  onRefusedFrame(type: FrameType, streamId: number, reason: string): void {
    if (this.client === undefined) return this.onProtocolError(`expected SETTINGS as the first frame, got ${FRAME_TYPE_NAMES[type]}`);
    if (type === FrameType.STREAM_MESSAGE) {
      const stream = this.openStreamFor(streamId, ` (${reason})`);
      if (stream !== undefined) this.streamError(stream, Code.RESOURCE_EXHAUSTED, `stream message refused by the server: ${reason}`);
      return;
    }
    if (type === FrameType.STREAM_OPEN) {
      if (this.newStreamId(streamId)) this.refuseStream(streamId, Code.RESOURCE_EXHAUSTED, `stream refused by the server: ${reason}`, true);
      return;
    }
    if (type !== FrameType.REQUEST) return this.onProtocolError(`unexpected frame type ${FRAME_TYPE_NAMES[type]} from a client (${reason})`);
    if (this.inflight.has(streamId)) return this.onProtocolError(`stream id ${streamId} reused while in flight`);
    this.refuse(streamId, Code.RESOURCE_EXHAUSTED, `request refused by the server: ${reason}`);
  }

  onProtocolError(message: string, peerVersion?: number): void {
    if (peerVersion !== undefined) {
      message = `unsupported protocol version ${peerVersion}: this server speaks Trellis protocol version ${PROTOCOL_VERSION}` +
        (peerVersion < PROTOCOL_VERSION ? ' (upgrade @trellis/core on the client)' : '');
      // Written in the client's own (older) version, whose frame layout it knows, so it can read why.
      return this.closeWithGoAway(Code.FAILED_PRECONDITION, message, Math.min(peerVersion, PROTOCOL_VERSION));
    }
    this.closeWithGoAway(Code.INVALID_ARGUMENT, `protocol error: ${message}`);
  }

  /**
   * Retires an idle connection (the server keeps serving): GOAWAY with code OK asks the client to
   * close it; the socket stays writable so a request that crossed the GOAWAY is refused as "not
   * executed" instead of being lost. Destroyed after a grace period if the client does not close.
   */
  private retire(reason: string): void {
    if (this.isClosed || this.goingAway !== undefined) return;
    this.goAway(reason, Code.OK);
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  /**
   * Asks the client to move its calls to a new connection to the same address (GOAWAY code OK, as
   * for an idle retirement), because another process keeps serving it (a worker being replaced).
   * Unlike `retire`, requests that cross the GOAWAY are served, not refused: refused, they would be
   * re-sent as "not executed" — but a client excludes an endpoint that refused a call, and the
   * address is one endpoint for every worker behind it.
   */
  handOver(reason: string): void {
    if (this.goingAway !== undefined || this.isClosed || this.closing) return;
    this.handingOver = true;
    this.goAway(reason, Code.OK);
  }

  /** Code UNAVAILABLE: the server is stopping; code OK: only this connection is being retired. */
  goAway(reason: string, code: Code = Code.UNAVAILABLE): void {
    if (this.goingAway !== undefined || this.isClosed || this.closing) return;
    this.goingAway = reason;
    this.batcher.write(this.goAwayFrame(code, reason));
  }

  /**
   * Resolves when the connection is closed. After GOAWAY the client closes it once its own pending
   * calls are answered — including requests that crossed the GOAWAY on the wire, which are refused as
   * "not executed". Waiting for in-flight handlers alone would close the socket under those requests.
   */
  closed(): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    return new Promise((resolve) => this.closeWaiters.push(resolve));
  }

  /** Cancels what is still running (grace period over) and closes. */
  destroy(reason: string): void {
    for (const exchange of this.inflight.values()) {
      exchange.onCancel?.(new RpcError(Code.UNAVAILABLE, reason));
      exchange.fail(new RpcError(Code.UNAVAILABLE, reason));
    }
    for (const stream of [...this.streams.values()]) this.streamError(stream, Code.UNAVAILABLE, reason);
    this.batcher.flushNow();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 200).unref();
  }

  /** Writes the answer of an exchange, fitted to the client's limits; never throws. */
  finish(exchange: Exchange, code: number, message: string, notExecuted: boolean, metadata: Metadata | undefined, body: Uint8Array | undefined): void {
    if (this.inflight.get(exchange.streamId) !== exchange) return; // cancelled meanwhile
    this.remove(exchange);
    // The common answer (OK, no trailers) is written in place into the connection's write slab.
    const size = body === undefined || code !== Code.OK ? -1 : plainResponseSize(this.client ?? DEFAULT_SETTINGS, metadata, body.length);
    if (size < 0) return this.batcher.write(this.answerFrame(exchange.streamId, code, message, notExecuted, metadata, body));
    const at = this.batcher.reserve(size);
    const slab = this.batcher.slab; // (read after reserving: reserving may start a new one)
    writePlainResponseHeader(slab, at, exchange.streamId, body!.length);
    slab.set(body!, at + PLAIN_RESPONSE_PREFIX);
  }

  /**
   * An OK answer whose message `encoder` writes (`length` bytes, measured by the kernel): the common
   * answer (no trailers, within the client's limit) is encoded straight into the write slab; any
   * other is encoded into bytes of its own and fitted as `finish` fits it. Never throws: a message
   * that fails to encode after all is answered INTERNAL, and nothing of it is sent.
   */
  finishEncoded(exchange: Exchange, length: number, encoder: MessageWriter, message: unknown, metadata: Metadata | undefined): void {
    if (this.inflight.get(exchange.streamId) !== exchange) return; // cancelled meanwhile
    const size = plainResponseSize(this.client ?? DEFAULT_SETTINGS, metadata, length);
    let failure: string;
    if (size >= 0) {
      const at = this.batcher.reserve(size);
      const slab = this.batcher.slab;
      writePlainResponseHeader(slab, at, exchange.streamId, length);
      const bodyAt = at + PLAIN_RESPONSE_PREFIX;
      try {
        const end = encoder.encodeInto(message, slab, bodyAt);
        if (end === bodyAt + length) return this.remove(exchange);
        failure = `the codec wrote ${end - bodyAt} bytes of a message it measured at ${length}`;
      } catch (error) {
        failure = (error as Error)?.message;
      }
      this.batcher.unreserve(at, size);
    } else {
      const body = Buffer.allocUnsafe(length);
      try {
        const end = encoder.encodeInto(message, body, 0);
        if (end === length) return this.finish(exchange, Code.OK, '', false, metadata, body);
        failure = `the codec wrote ${end} bytes of a message it measured at ${length}`;
      } catch (error) {
        failure = (error as Error)?.message;
      }
    }
    this.finish(exchange, Code.INTERNAL, `the server could not encode its answer: ${failure}`, false, undefined, undefined);
  }

  private remove(exchange: Exchange): void {
    this.inflight.delete(exchange);
    this.inflightBytes -= exchange.size;
    if (this.pausedForInflight && this.inflightBytes <= this.maxInflightBytes) {
      this.pausedForInflight = false;
      this.updateReading();
    }
  }

  private answerFrame(streamId: number, code: number, message: string, notExecuted: boolean, metadata: Metadata | undefined, body: Uint8Array | undefined): Buffer {
    try {
      return fitResponseFrame(this.client ?? DEFAULT_SETTINGS, FrameType.RESPONSE, streamId, code, message, notExecuted, metadata, body);
    } catch (error) {
      // E.g. a trailer value that is not a string. The caller still gets an answer, and why.
      const why = String((error as Error)?.message ?? error).slice(0, 200);
      return encodeResponseFrame(FrameType.RESPONSE, streamId, Code.INTERNAL, `the server could not encode its answer: ${why}`, notExecuted, undefined, undefined);
    }
  }

  private goAwayFrame(code: Code, message: string, version = PROTOCOL_VERSION): Buffer {
    const frame = fitResponseFrame(this.client ?? DEFAULT_SETTINGS, FrameType.GOAWAY, 0, code, message, true, undefined, undefined);
    frame[2] = version;
    return frame;
  }

  private onFirstFrame(type: FrameType, buf: Buffer, headerStart: number, headerEnd: number): void {
    if (type !== FrameType.SETTINGS) {
      return this.onProtocolError(`expected SETTINGS as the first frame, got ${FRAME_TYPE_NAMES[type]} (a client of protocol version 1?)`);
    }
    try {
      this.client = decodeSettings(buf, headerStart, headerEnd);
    } catch (error) {
      return this.onProtocolError(`bad SETTINGS: ${(error as Error).message}`);
    }
    clearTimeout(this.firstFrameTimer);
    this.firstFrameTimer = undefined;
    this.batcher.write(encodeSettingsFrame({
      ...this.options.limits,
      maxConcurrentStreams: this.options.maxConcurrentStreams,
      capabilities: this.options.streams === undefined ? 0 : CAPABILITY_STREAMS,
      streamWindow: this.streamWindow,
      maxOpenStreams: this.maxOpenStreams,
    }));
  }

  private onCancelFrame(streamId: number, buf: Buffer, headerStart: number, headerEnd: number): void {
    const exchange = this.inflight.get(streamId);
    if (exchange === undefined) {
      if (this.streams.size !== 0) this.onStreamCancel(streamId, buf, headerStart, headerEnd);
      return;
    }
    this.remove(exchange);
    exchange.finished = true;
    let reason = 'cancelled by the client';
    if (headerEnd > headerStart) {
      // A CANCEL may say why (a per-stream reset); a reason that does not decode is ignored.
      try {
        const header = decodeResponseHeader(buf, headerStart, headerEnd, this.options.limits.maxMetadataEntries);
        if (header.message !== '') reason = `${reason}: ${header.message}`;
      } catch { /* the cancellation itself is what matters */ }
    }
    exchange.onCancel?.(new RpcError(Code.CANCELLED, reason));
  }

  private onRequest(streamId: number, buf: Buffer, headerStart: number, headerEnd: number, bodyEnd: number): void {
    if (this.inflight.has(streamId)) return this.onProtocolError(`stream id ${streamId} reused while in flight`);
    const exchange = new Exchange(this, streamId, bodyEnd - headerStart, this.peer);
    try {
      decodeRequestHeaderInto(exchange, buf, headerStart, headerEnd, this.headerMemo, this.options.limits.maxMetadataEntries);
    } catch (error) {
      // The frame was well delimited: only this call is refused.
      const limit = error instanceof WireError && error.limit !== undefined;
      return this.refuse(streamId, limit ? Code.RESOURCE_EXHAUSTED : Code.INVALID_ARGUMENT,
        `${limit ? 'request refused by the server' : 'malformed request header'}: ${(error as Error).message}`);
    }
    exchange.body = buf.subarray(headerEnd, bodyEnd);
    this.inflight.add(exchange);
    this.inflightBytes += exchange.size;
    if (this.goingAway !== undefined && !this.handingOver) {
      return exchange.fail(new RpcError(Code.UNAVAILABLE, `connection is closing: ${this.goingAway}`, { mayHaveRun: false }));
    }
    if (this.inflight.size > this.options.maxConcurrentStreams) {
      return exchange.fail(new RpcError(
        Code.RESOURCE_EXHAUSTED,
        `too many concurrent requests on one connection (limit ${this.options.maxConcurrentStreams}, maxConcurrentStreams)`,
        { mayHaveRun: false },
      ));
    }
    try {
      this.handler(exchange, exchange);
    } catch (error) {
      exchange.fail(new RpcError(Code.INTERNAL, `server failed to dispatch the request: ${(error as Error)?.message}`));
    }
  }

  /** Answers one stream that never ran (not executed), without touching the others. */
  private refuse(streamId: number, code: Code, message: string): void {
    this.batcher.write(this.answerFrame(streamId, code, message, true, undefined, undefined));
  }

  /** A peer abusing the connection (PING flood, dribbled frames): GOAWAY RESOURCE_EXHAUSTED, then close. */
  private closeForAbuse(message: string): void {
    this.closeWithGoAway(Code.RESOURCE_EXHAUSTED, message);
  }

  private closeWithGoAway(code: Code, message: string, version = PROTOCOL_VERSION): void {
    if (this.closing) return;
    this.closing = true;
    this.decoder.fail();
    this.rateGuard.stop();
    // Whatever else the peer sends is ignored: do not spend reads on it (a flooder keeps writing).
    this.socket.pause();
    this.options.onError(this.peer, message);
    // Tell the client why (GOAWAY carries the reason), then close this connection only.
    if (!this.socket.destroyed && !this.socket.writableEnded) {
      this.batcher.write(this.goAwayFrame(code, message, version));
      this.batcher.flushNow();
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 1000).unref();
    }
  }

  /** Stop reading while the peer is not taking our answers; resume once they drained. */
  private onWritePressure(high: boolean): void {
    this.pausedForWrites = high;
    this.updateReading();
    if (high) return;
    const senders = this.blockedSenders;
    this.blockedSenders = [];
    for (const sender of senders) sender.pump();
  }

  // ---- streams (issue #18): docs/protocol.md, "Streams"

  get writePressure(): boolean {
    return this.batcher.underPressure;
  }

  get clientMaxBodySize(): number {
    return (this.client ?? DEFAULT_SETTINGS).maxBodySize;
  }

  writeMessage(stream: TcpServerStream, body: Uint8Array): void {
    writeStreamMessageFrame(this.batcher, stream.streamId, body);
  }

  writeEncoded(stream: TcpServerStream, length: number, encoder: MessageWriter, message: unknown): void {
    writeEncodedMessageFrame(this.batcher, stream.streamId, length, encoder, message);
  }

  writeHeaders(stream: TcpServerStream, metadata: Metadata | undefined): void {
    this.batcher.write(fitStreamStatusFrame(this.client ?? DEFAULT_SETTINGS, FrameType.STREAM_HEADERS, stream.streamId, Code.OK, '', false, metadata));
  }

  writeStatus(stream: TcpServerStream, code: number, message: string, notExecuted: boolean, metadata: Metadata | undefined): void {
    if (this.streams.get(stream.streamId) !== stream) return;
    this.streams.delete(stream.streamId);
    this.batcher.write(fitStreamStatusFrame(this.client ?? DEFAULT_SETTINGS, FrameType.STREAM_TRAILERS, stream.streamId, code, message, notExecuted, metadata));
  }

  /** Written at once, as on the client (client-connection.ts says why). */
  writeWindowUpdate(stream: TcpServerStream, increment: number): void {
    if (this.streams.get(stream.streamId) !== stream) return;
    this.batcher.write(encodeWindowUpdateFrame(stream.streamId, increment));
    this.batcher.flush();
  }

  waitWritable(sender: StreamSender): void {
    this.blockedSenders.push(sender);
  }

  private onStreamOpen(streamId: number, buf: Buffer, headerStart: number, headerEnd: number): void {
    if (!this.newStreamId(streamId)) return;
    const handler = this.options.streams;
    if (handler === undefined) return this.refuseStream(streamId, Code.UNIMPLEMENTED, 'this server serves no streams', true);
    const flags = buf[headerStart - FIXED_HEADER_SIZE + FLAGS_OFFSET]!;
    const kind = streamKindOf(flags);
    if (kind === undefined) {
      return this.refuseStream(streamId, Code.INVALID_ARGUMENT, `protocol error: STREAM_OPEN names stream kind ${flags} (1 server-, 2 client-, 3 bidi-streaming)`, true);
    }
    let header;
    try {
      header = decodeRequestHeader(buf, headerStart, headerEnd, this.headerMemo, this.options.limits.maxMetadataEntries);
    } catch (error) {
      const limit = error instanceof WireError && error.limit !== undefined;
      return this.refuseStream(streamId, limit ? Code.RESOURCE_EXHAUSTED : Code.INVALID_ARGUMENT,
        `${limit ? 'stream refused by the server' : 'malformed stream header'}: ${(error as Error).message}`, true);
    }
    if (this.goingAway !== undefined && !this.handingOver) {
      return this.refuseStream(streamId, Code.UNAVAILABLE, `connection is closing: ${this.goingAway}`, true);
    }
    if (this.streams.size >= this.maxOpenStreams) {
      return this.refuseStream(streamId, Code.RESOURCE_EXHAUSTED,
        `too many open streams on one connection (limit ${this.maxOpenStreams}, maxOpenStreams)`, true);
    }
    const stream = new TcpServerStream(this, streamId, header, kind, this.peer, this.streamWindow, this.client!.streamWindow);
    this.streams.set(streamId, stream);
    try {
      handler(stream, stream);
    } catch (error) {
      stream.fail(new RpcError(Code.INTERNAL, `server failed to dispatch the stream: ${(error as Error)?.message}`));
    }
  }

  private onStreamMessage(streamId: number, buf: Buffer, headerEnd: number, bodyEnd: number): void {
    const stream = this.openStreamFor(streamId, '');
    if (stream === undefined) return;
    if (stream.halfClosed) return this.streamError(stream, Code.INVALID_ARGUMENT, 'protocol error: a stream message after the client\'s half-close');
    if (!stream.onMessage(this.messages.take(buf, headerEnd, bodyEnd))) {
      this.streamError(stream, Code.RESOURCE_EXHAUSTED, 'protocol error: flow control: a stream message beyond the credit the server granted');
    }
  }

  private onStreamHalfClose(streamId: number): void {
    const stream = this.streams.get(streamId);
    if (stream === undefined) return; // crossed the stream's end on the wire
    if (stream.halfClosed) return this.streamError(stream, Code.INVALID_ARGUMENT, 'protocol error: a second half-close');
    stream.onHalfClose();
  }

  private onStreamWindowUpdate(streamId: number, increment: number): void {
    const stream = this.streams.get(streamId);
    if (stream === undefined) return; // credit for a stream that just ended
    if (increment === 0) return this.streamError(stream, Code.INVALID_ARGUMENT, 'protocol error: a WINDOW_UPDATE of 0');
    if (!stream.onWindowUpdate(increment)) {
      this.streamError(stream, Code.INVALID_ARGUMENT, `protocol error: a WINDOW_UPDATE of ${increment} overflows the stream's window past 2^31-1`);
    }
  }

  private onStreamCancel(streamId: number, buf: Buffer, headerStart: number, headerEnd: number): void {
    const stream = this.streams.get(streamId);
    if (stream === undefined) return;
    this.streams.delete(streamId);
    stream.finished = true;
    let reason = 'cancelled by the client';
    if (headerEnd > headerStart) {
      try {
        const header = decodeResponseHeader(buf, headerStart, headerEnd, this.options.limits.maxMetadataEntries);
        if (header.message !== '') reason = `${reason}: ${header.message}`;
      } catch { /* the cancellation itself is what matters */ }
    }
    stream.abort(new RpcError(Code.CANCELLED, reason));
  }

  /** The client broke one stream's rules (or the server is closing it): its handler is aborted, it ends with `code`. */
  private streamError(stream: TcpServerStream, code: Code, message: string): void {
    const error = new RpcError(code, message);
    stream.abort(error);
    stream.close(code, message, undefined, error);
  }

  /**
   * The open stream a STREAM_MESSAGE (read, or refused over a limit) is for. One that is not open —
   * never opened, or already ended here, its status on its way (the client drops this answer) — is
   * refused for its id alone: undefined.
   */
  private openStreamFor(streamId: number, detail: string): TcpServerStream | undefined {
    const stream = this.streams.get(streamId);
    if (stream === undefined) this.refuseStream(streamId, Code.INVALID_ARGUMENT, `protocol error: a STREAM_MESSAGE for stream ${streamId}, which is not open${detail}`, false);
    return stream;
  }

  /** False (and the connection closed) when a STREAM_OPEN (read, or refused over a limit) reuses an id in flight. */
  private newStreamId(streamId: number): boolean {
    if (!this.inflight.has(streamId) && !this.streams.has(streamId)) return true;
    this.onProtocolError(`stream id ${streamId} reused while in flight`);
    return false;
  }

  /** Answers one stream that never ran (or an id that is not a stream) with STREAM_TRAILERS. */
  private refuseStream(streamId: number, code: Code, message: string, notExecuted: boolean): void {
    this.batcher.write(fitStreamStatusFrame(this.client ?? DEFAULT_SETTINGS, FrameType.STREAM_TRAILERS, streamId, code, message, notExecuted, undefined));
  }

  private updateReading(): void {
    if (this.closing || this.isClosed) return;
    if (this.pausedForWrites || this.pausedForInflight) {
      if (this.socket.isPaused()) return;
      this.socket.pause();
      this.rateGuard.pause();
    } else if (this.socket.isPaused()) {
      this.socket.resume();
      this.rateGuard.resume();
    }
  }

  /** Checks four times per idleTimeoutMs; retires after a whole period with no frame and no call. */
  private armIdleCheck(): void {
    this.idleTimer = setTimeout(() => {
      if (this.isClosed) return;
      const quiet = this.frames === this.framesAtLastCheck && this.inflight.size === 0 && this.streams.size === 0 && !this.decoder.midFrame;
      this.framesAtLastCheck = this.frames;
      this.quietChecks = quiet ? this.quietChecks + 1 : 0;
      if (this.quietChecks >= 4) return this.retire(`idle for ${this.options.idleTimeoutMs} ms (idleTimeoutMs)`);
      this.armIdleCheck();
    }, this.options.idleTimeoutMs / 4);
    this.idleTimer.unref();
  }

  private onSocketClosed(): void {
    this.isClosed = true;
    if (this.firstFrameTimer !== undefined) clearTimeout(this.firstFrameTimer);
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.rateGuard.stop();
    this.decoder.fail();
    for (const exchange of this.inflight.values()) {
      exchange.finished = true;
      exchange.onCancel?.(new RpcError(Code.CANCELLED, 'client disconnected'));
    }
    this.inflight.clear();
    this.inflightBytes = 0;
    const streams = [...this.streams.values()];
    this.streams.clear();
    this.blockedSenders = [];
    for (const stream of streams) {
      stream.finished = true;
      stream.abort(new RpcError(Code.CANCELLED, 'client disconnected'));
    }
    for (const resolve of this.closeWaiters.splice(0)) resolve();
    this.onClose(this);
  }
}
