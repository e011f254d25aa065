import { connect, type Socket } from 'node:net';
import { connect as connectTls, type ConnectionOptions } from 'node:tls';
import type { DeadlineBucket, DeadlineEntry, DeadlineTimer } from '../deadline-timer.js';
import { Code, RpcError } from '../errors.js';
import type { OutboundRequest, ResponseSink } from '../transport.js';
import type { ClientStream, OutboundStream } from '../transport-stream.js';
import { TcpClientStream, type ClientStreamHost } from './client-stream.js';
import { encodeBareFrame, FRAME_TYPE_NAMES, FrameType, PING_BODY_SIZE, PROTOCOL_VERSION, type FrameLimits } from './frame.js';
import { FrameDecoder, type FrameSink } from './frame-decoder.js';
import { decodeResponseHeader, FrameLimitError, requestFrameSize, writeRequestFrame } from './header-codec.js';
import { PingRateLimit } from './ping-rate-limit.js';
import { CAPABILITY_STREAMS, decodeSettings, DEFAULT_SETTINGS, encodeSettingsFrame, type Settings } from './settings.js';
import {
  encodeHalfCloseFrame, encodeStreamCancelFrame, encodeStreamOpenFrame, encodeWindowUpdateFrame, writeStreamMessageFrame,
} from './stream-frames.js';
import type { StreamSender } from './stream-sender.js';
import { describeTlsFailure } from './tls-errors.js';
import { MessageCopier } from './message-copier.js';
import { WriteBatcher } from './write-batcher.js';
import { CallTable } from './call-table.js';

export type ClientConnectionState = 'connecting' | 'ready' | 'draining' | 'closed';

/** What a GOAWAY means for the endpoint: stopping (UNAVAILABLE), only this connection retired (OK), or an error. */
export type GoAwayKind = 'stopping' | 'retired' | 'error';

export interface ClientConnectionEvents {
  onReady(connection: ClientConnection): void;
  /** GOAWAY received: no new calls may use this connection. */
  onGoAway(connection: ClientConnection, message: string, kind: GoAwayKind): void;
  /** `connected` tells a failed dial (or handshake) from a dropped connection. */
  onClosed(connection: ClientConnection, connected: boolean, reason: string): void;
}

export interface ClientConnectionOptions {
  /** What this client accepts (announced to the server in SETTINGS). */
  readonly limits: FrameLimits;
  readonly timer: DeadlineTimer;
  readonly now: () => number;
  /** Covers the dial, the TLS handshake and the SETTINGS exchange. */
  readonly connectTimeoutMs: number;
  /** PINGs per second the server may send before the connection is closed. */
  readonly maxPingsPerSecond: number;
  readonly tls: ConnectionOptions | undefined;
  /** Receive credit per stream this client grants servers (announced as stream_window). */
  readonly streamWindow: number;
  /** Outgoing bytes not yet taken by the kernel above which stream senders wait (default 1 MiB). */
  readonly writeHighWaterMark?: number;
}

/** Stream senders wait past this many unsent bytes on the socket (the server's default too). */
const CLIENT_WRITE_HIGH_WATER_MARK = 1024 * 1024;

/**
 * One call waiting for its RESPONSE frame; doubles as its own deadline entry and abort listener
 * target (no closure per call). It answers through the caller's sink: no promise.
 */
class PendingCall implements DeadlineEntry {
  bucket: DeadlineBucket | number = 0;
  timerPrev: DeadlineEntry | undefined = undefined;
  timerNext: DeadlineEntry | undefined = undefined;
  /** False until the frame could have left this process. */
  sent = false;
  /** The request's bytes, taken when the call must wait (its message is encoded before `send` returns). */
  body: Uint8Array | undefined = undefined;
  abortListener: (() => void) | undefined;

  constructor(
    readonly connection: ClientConnection,
    readonly streamId: number,
    readonly sink: ResponseSink,
    readonly signal: AbortSignal | undefined,
    /** Kept until the call is written (it waits for the handshake or a free stream). */
    public request: OutboundRequest | undefined,
  ) {}

  onDeadline(): void {
    this.connection.expire(this);
  }

  fail(error: RpcError): void {
    this.sink.onError(error);
  }
}

/**
 * One TCP connection carrying many concurrent calls, matched to responses by stream id.
 *
 * The connection is ready once the server's SETTINGS arrived (docs/protocol.md): calls made before
 * that wait here, unsent. Every request is checked against the server's announced limits before it
 * is written; one that would break them fails alone with RESOURCE_EXHAUSTED and `mayHaveRun: false`.
 * At the server's maxConcurrentStreams, further calls wait here (FIFO, within their deadline) for a
 * call to finish instead of being refused by the server.
 */
export class ClientConnection implements FrameSink, ClientStreamHost {
  state: ClientConnectionState = 'connecting';
  private readonly socket: Socket;
  private readonly batcher: WriteBatcher;
  private readonly decoder: FrameDecoder;
  /** Owned copies of received stream messages (several to one copy; released after each read). */
  private readonly messages = new MessageCopier();
  /** Calls out, by stream id (ids are never reused while the connection lives: a late answer is dropped). */
  private readonly pending = new CallTable<PendingCall>();
  /** Calls not written yet, oldest first (entries already settled are skipped when met). */
  private waiting: PendingCall[] = [];
  private waitingHead = 0;
  private sentCount = 0;
  private readonly pings = new Map<number, { resolve(rtt: number): void; reject(e: Error): void; at: number; timer: NodeJS.Timeout }>();
  private readonly pingsBeforeReady: Buffer[] = [];
  private readonly pingLimit: PingRateLimit;
  private nextStreamId = 1;
  private nextPingId = 1;
  /** TCP (and TLS) is up. */
  private transportUp = false;
  /** The server's SETTINGS arrived. */
  private handshaken = false;
  private received = false;
  /** The server's SETTINGS (its limits); defaults until they arrive. */
  peer: Settings = DEFAULT_SETTINGS;
  /** The server retired this connection (idle) but keeps serving. */
  retired = false;
  /** The server closed this connection after the handshake for cause (GOAWAY with an error code) but keeps serving. */
  closedForCause = false;
  private closeReason = '';
  /** Open streams (STREAM_OPEN written or waiting for the handshake), by stream id. */
  private readonly streams = new Map<number, TcpClientStream>();
  /** Streams waiting for the handshake, in order. */
  private streamsBeforeReady: TcpClientStream[] = [];
  private openStreamCount = 0;
  /** Stream senders waiting for the socket to drain below the high-water mark. */
  private blockedSenders: StreamSender[] = [];
  writePressure = false;
  readonly receiveWindow: number;

  constructor(
    readonly label: string,
    host: string,
    port: number,
    private readonly options: ClientConnectionOptions,
    private readonly events: ClientConnectionEvents,
  ) {
    const { tls, connectTimeoutMs } = options;
    this.socket = tls
      ? connectTls({ servername: host.match(/^[\d.:]+$/) ? undefined : host, ...tls, host, port })
      : connect({ host, port, noDelay: true });
    if (tls) this.socket.setNoDelay(true);
    this.socket.setTimeout(connectTimeoutMs);
    // Unary calls never wait on the high-water mark (they are bounded by maxConcurrentStreams); stream
    // senders do, so a fast producer cannot queue without bound on a socket that does not drain.
    this.batcher = new WriteBatcher(this.socket, options.writeHighWaterMark ?? CLIENT_WRITE_HIGH_WATER_MARK, (high) => this.onWritePressure(high));
    this.receiveWindow = options.streamWindow;
    this.decoder = new FrameDecoder(options.limits, this);
    this.pingLimit = new PingRateLimit(options.maxPingsPerSecond, options.now);
    this.socket.on(tls ? 'secureConnect' : 'connect', () => {
      this.transportUp = true;
      this.batcher.write(encodeSettingsFrame({
        ...options.limits,
        maxConcurrentStreams: DEFAULT_SETTINGS.maxConcurrentStreams,
        capabilities: CAPABILITY_STREAMS,
        streamWindow: options.streamWindow,
        maxOpenStreams: DEFAULT_SETTINGS.maxOpenStreams,
      }));
    });
    this.socket.on('timeout', () => {
      // After an event-loop stall this timer fires before the connect (or the server's SETTINGS) that
      // completed meanwhile is read: let pending socket I/O run first, then decide.
      const upWhenFired = this.transportUp;
      setImmediate(() => this.onConnectTimeout(upWhenFired));
    });
    this.socket.on('data', (chunk: Buffer) => {
      this.received = true;
      this.decoder.push(chunk);
      // The read's answers are delivered: the next read's answers share a new reading (arrivedAt).
      this.readReading = undefined;
      this.messages.release();
    });
    this.socket.on('error', (error: NodeJS.ErrnoException) => {
      if (tls) {
        this.closeReason ||= `${this.transportUp ? 'connection to' : 'cannot connect to'} ${label}: ${describeTlsFailure(error, this.transportUp)}`;
      } else {
        this.closeReason ||= this.transportUp ? `connection to ${label} failed: ${error.message}` : `cannot connect to ${label}: ${error.code ?? error.message}`;
      }
    });
    this.socket.on('close', () => this.onSocketClosed());
  }

  get inflight(): number {
    return this.pending.size;
  }

  /** Streams open on this connection (or waiting for its handshake). */
  get streamCount(): number {
    return this.streams.size;
  }

  get peerMaxBodySize(): number {
    return this.peer.maxBodySize;
  }

  get isConnected(): boolean {
    return this.handshaken;
  }

  /** Calls that can still be written without waiting (the server's maxConcurrentStreams minus those out). */
  get freeSlots(): number {
    return this.peer.maxConcurrentStreams - this.sentCount - (this.waiting.length - this.waitingHead);
  }

  /** Calls waiting for the handshake or a free stream. */
  get queued(): number {
    return this.waiting.length - this.waitingHead;
  }

  /** Sends one call; its answer or error goes to `sink`, exactly once (possibly before this returns). */
  send(request: OutboundRequest, sink: ResponseSink): void {
    const streamId = this.allocateStreamId();
    const call = new PendingCall(this, streamId, sink, request.signal, request);
    if (this.handshaken && this.sentCount < this.peer.maxConcurrentStreams && this.queued === 0) {
      if (!this.write(call)) return;
    } else {
      // Written later: the bytes now (before anything is registered: reading them may throw), while
      // the caller's message is as it was when the call was made.
      call.body = request.body;
    }
    this.pending.add(call);
    // The kernel's reading for timeoutMs when it is on this clock (one clock read less per call).
    this.options.timer.add(call, (request.sentAt ?? this.options.now()) + request.timeoutMs);
    const signal = request.signal;
    if (signal !== undefined) {
      call.abortListener = () => this.cancel(call);
      signal.addEventListener('abort', call.abortListener, { once: true });
    }
    if (call.request !== undefined) this.waiting.push(call);
  }

  ping(timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const id = this.nextPingId++;
      const body = Buffer.allocUnsafe(PING_BODY_SIZE);
      body.writeDoubleBE(id, 0);
      const timer = setTimeout(() => {
        this.pings.delete(id);
        reject(new RpcError(Code.DEADLINE_EXCEEDED, `no PONG from ${this.label} within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.pings.set(id, { resolve, reject, at: this.options.now(), timer });
      const frame = encodeBareFrame(FrameType.PING, 0, body);
      if (this.handshaken) this.batcher.write(frame);
      else this.pingsBeforeReady.push(frame);
    });
  }

  /** Closes once idle; used for GOAWAY and for endpoints that left the directory. Unsent calls fail, never run. */
  drain(reason = 'the connection is closing'): void {
    if (this.state === 'closed') return;
    this.state = 'draining';
    this.failWaiting(reason);
    if (this.pending.size === 0 && this.streams.size === 0) this.destroy('drained');
  }

  destroy(reason: string): void {
    this.closeReason ||= reason;
    this.socket.destroy();
  }

  private onConnectTimeout(upWhenFired: boolean): void {
    if (this.handshaken || this.socket.destroyed) return;
    const { connectTimeoutMs } = this.options;
    // Connected only just now (the stall hid it): the server has not yet had our SETTINGS to answer.
    if (this.transportUp && !upWhenFired) return void this.socket.setTimeout(connectTimeoutMs);
    this.destroy(this.transportUp
      ? `${this.label} sent no SETTINGS within ${connectTimeoutMs} ms of connecting (connectTimeoutMs): not a Trellis server of protocol version ${PROTOCOL_VERSION}?`
      : `connect to ${this.label} timed out after ${connectTimeoutMs} ms`);
  }

  expire(call: PendingCall): void {
    if (!this.pending.delete(call)) return;
    this.detach(call);
    let message = `deadline exceeded waiting for ${this.label}`;
    // (sentCount is given back by afterCallEnded, once.)
    if (call.sent) {
      this.batcher.write(encodeBareFrame(FrameType.CANCEL, call.streamId));
    } else if (this.handshaken) {
      message = `deadline exceeded waiting for a free stream to ${this.label} (the server runs at most ${this.peer.maxConcurrentStreams} calls per connection, maxConcurrentStreams)`;
    } else {
      message = `deadline exceeded while connecting to ${this.label}`;
    }
    call.request = undefined;
    this.afterCallEnded(call.sent);
    call.fail(new RpcError(Code.DEADLINE_EXCEEDED, message, { mayHaveRun: call.sent }));
  }

  private cancel(call: PendingCall): void {
    if (!this.pending.delete(call)) return;
    this.options.timer.remove(call);
    call.abortListener = undefined;
    if (call.sent) this.batcher.write(encodeBareFrame(FrameType.CANCEL, call.streamId));
    call.request = undefined;
    const reason = call.signal?.reason;
    this.afterCallEnded(call.sent);
    call.fail(new RpcError(Code.CANCELLED, `call cancelled by the caller${reason instanceof Error ? `: ${reason.message}` : ''}`, { mayHaveRun: call.sent }));
  }

  /**
   * Encodes and writes a call, checked against the server's limits. Returns false (having rejected
   * the call, never sent) when it breaks one.
   */
  private write(call: PendingCall): boolean {
    const request = call.request!;
    call.request = undefined;
    // The body: bytes taken when the call waited, else encoded in place when the request can (the
    // codec's fast path, OutboundRequest.bodyLength), else the request's bytes.
    let body = call.body;
    call.body = undefined;
    const bodyLength = body !== undefined ? body.length : request.bodyLength ?? (body = request.body).length;
    let size: number;
    try {
      size = requestFrameSize(request, bodyLength, this.peer);
    } catch (error) {
      call.fail(error instanceof FrameLimitError
        ? new RpcError(Code.RESOURCE_EXHAUSTED, `${error.message} at ${this.label}; nothing was sent`, { mayHaveRun: false, cause: error })
        : new RpcError(Code.INTERNAL, `request to ${this.label} could not be encoded: ${(error as Error).message}`, { mayHaveRun: false, cause: error }));
      return false;
    }
    // Encoded in place into the connection's write slab: no Buffer of its own, no copy at flush.
    const at = this.batcher.reserve(size);
    const slab = this.batcher.slab; // (read after reserving: reserving may start a new one)
    const bodyAt = writeRequestFrame(slab, at, call.streamId, bodyLength);
    if (body !== undefined) {
      slab.set(body, bodyAt);
    } else {
      let end: number;
      try {
        end = request.writeBody!(slab, bodyAt);
      } catch (error) {
        this.batcher.unreserve(at, size);
        call.fail(new RpcError(Code.INVALID_ARGUMENT, `request to ${this.label} could not be encoded: ${(error as Error).message}`, { mayHaveRun: false, cause: error }));
        return false;
      }
      if (end !== bodyAt + bodyLength) {
        this.batcher.unreserve(at, size);
        call.fail(new RpcError(Code.INTERNAL, `request to ${this.label} could not be encoded: the codec wrote ${end - bodyAt} bytes of a message it measured at ${bodyLength}`, { mayHaveRun: false }));
        return false;
      }
    }
    call.sent = true;
    this.sentCount++;
    return true;
  }

  /** Writes waiting calls while the server has room for them. */
  private pump(): void {
    if (!this.handshaken || this.state === 'closed') return;
    while (this.waitingHead < this.waiting.length && this.sentCount < this.peer.maxConcurrentStreams) {
      const call = this.waiting[this.waitingHead++]!;
      if (call.request === undefined || this.pending.get(call.streamId) !== call) continue;
      if (!this.write(call)) {
        this.pending.delete(call);
        this.detach(call);
      }
    }
    if (this.waitingHead === this.waiting.length) {
      this.waiting = [];
      this.waitingHead = 0;
    } else if (this.waitingHead > 1024 && this.waitingHead * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.waitingHead);
      this.waitingHead = 0;
    }
  }

  /** Unsent calls fail as never run, so the kernel may send them elsewhere. */
  private failWaiting(reason: string): void {
    const waiting = this.waiting;
    const from = this.waitingHead;
    this.waiting = [];
    this.waitingHead = 0;
    for (let i = from; i < waiting.length; i++) {
      const call = waiting[i]!;
      if (call.request === undefined || !this.pending.delete(call)) continue;
      this.detach(call);
      call.request = undefined;
      call.body = undefined;
      call.fail(new RpcError(Code.UNAVAILABLE, reason, { mayHaveRun: false }));
    }
    const streams = this.streamsBeforeReady;
    this.streamsBeforeReady = [];
    for (const stream of streams) stream.finish(new RpcError(Code.UNAVAILABLE, reason, { mayHaveRun: false }));
  }

  // ---- streams (issue #18)

  /** Opens one stream; it waits for the handshake like a call. Never throws: failures go through the stream. */
  openStream(request: OutboundStream): ClientStream {
    const stream = new TcpClientStream(this, this.allocateStreamId(), request);
    if (this.state === 'closed' || this.state === 'draining') {
      stream.finish(new RpcError(Code.UNAVAILABLE, this.state === 'closed'
        ? `connection to ${this.label} is closed`
        : `${this.label} is going away (GOAWAY): no new streams`, { mayHaveRun: false }));
      return stream;
    }
    if (stream.over) return stream; // its signal was already aborted
    this.streams.set(stream.streamId, stream);
    if (this.handshaken) this.startStream(stream);
    else this.streamsBeforeReady.push(stream);
    return stream;
  }

  /** Checks the stream against what the server announced, then writes STREAM_OPEN. */
  private startStream(stream: TcpClientStream): void {
    if (stream.over) return;
    const request = stream.request!;
    const peer = this.peer;
    if ((peer.capabilities & CAPABILITY_STREAMS) === 0) {
      return stream.finish(new RpcError(Code.UNIMPLEMENTED,
        `${this.label} does not support streams (its SETTINGS lack the streams capability: an older @trellis/core, or a server without stream handlers); nothing was sent`,
        { mayHaveRun: false }));
    }
    if (this.openStreamCount >= peer.maxOpenStreams) {
      return stream.finish(new RpcError(Code.RESOURCE_EXHAUSTED,
        `too many open streams to ${this.label}: the server accepts ${peer.maxOpenStreams} per connection (maxOpenStreams); nothing was sent`,
        { mayHaveRun: false }));
    }
    let frame: Buffer;
    try {
      frame = encodeStreamOpenFrame(stream.streamId, request, request.kind, peer);
    } catch (error) {
      return stream.finish(error instanceof FrameLimitError
        ? new RpcError(Code.RESOURCE_EXHAUSTED, `${error.message} at ${this.label}; nothing was sent`, { mayHaveRun: false, cause: error })
        : new RpcError(Code.INTERNAL, `stream open to ${this.label} could not be encoded: ${(error as Error).message}`, { mayHaveRun: false, cause: error }));
    }
    this.openStreamCount++;
    this.batcher.write(frame);
    stream.onOpened(peer.streamWindow);
  }

  writeMessage(stream: TcpClientStream, body: Uint8Array): void {
    writeStreamMessageFrame(this.batcher, stream.streamId, body);
  }

  writeHalfClose(stream: TcpClientStream): void {
    this.batcher.write(encodeHalfCloseFrame(stream.streamId));
  }

  /**
   * Written at once, not at the end of the tick: a consumer takes a whole read's messages in one
   * run of microtasks, and credit held back until it finished would leave the sender idle meanwhile
   * (stop-and-wait instead of a pipeline; bench:stream).
   */
  writeWindowUpdate(stream: TcpClientStream, increment: number): void {
    this.batcher.write(encodeWindowUpdateFrame(stream.streamId, increment));
    this.batcher.flush();
  }

  cancelStream(stream: TcpClientStream, code: Code, message: string): void {
    if (stream.opened && !stream.over && this.state !== 'closed') this.batcher.write(encodeStreamCancelFrame(stream.streamId, code, message));
  }

  waitWritable(sender: StreamSender): void {
    this.blockedSenders.push(sender);
  }

  streamEnded(stream: TcpClientStream): void {
    if (this.streams.get(stream.streamId) !== stream) return;
    this.streams.delete(stream.streamId);
    if (stream.opened) this.openStreamCount--;
    this.closeIfDrained();
  }

  private onWritePressure(high: boolean): void {
    this.writePressure = high;
    if (high) return;
    const senders = this.blockedSenders;
    this.blockedSenders = [];
    for (const sender of senders) sender.pump();
  }

  /** A stream frame from the server. */
  private onStreamFrame(type: FrameType, streamId: number, buf: Buffer, headerStart: number, headerEnd: number, bodyEnd: number): void {
    const stream = this.streams.get(streamId);
    // A stream this side already ended (cancelled, failed): what crossed on the wire is dropped.
    if (stream === undefined || !stream.opened) return;
    switch (type) {
      case FrameType.STREAM_MESSAGE:
        if (!stream.onMessage(this.messages.take(buf, headerEnd, bodyEnd))) {
          this.streamError(stream, Code.RESOURCE_EXHAUSTED, `flow control: ${this.label} sent a stream message beyond the credit this client granted`);
        }
        return;
      case FrameType.WINDOW_UPDATE: {
        const increment = buf.readUInt32BE(headerEnd);
        if (increment === 0 || !stream.onWindowUpdate(increment)) {
          this.streamError(stream, Code.INTERNAL, `flow control: ${this.label} sent a WINDOW_UPDATE of ${increment}, which ${increment === 0 ? 'is not allowed' : 'overflows the window past 2^31-1'}`);
        }
        return;
      }
      case FrameType.STREAM_HEADERS:
      case FrameType.STREAM_TRAILERS: {
        let header;
        try {
          header = decodeResponseHeader(buf, headerStart, headerEnd, this.options.limits.maxMetadataEntries);
        } catch (error) {
          return this.streamError(stream, Code.INTERNAL, `malformed stream ${type === FrameType.STREAM_HEADERS ? 'headers' : 'trailers'} from ${this.label}: ${(error as Error).message}`);
        }
        if (type === FrameType.STREAM_HEADERS) return stream.onHeaders(header.metadata);
        return stream.onTrailers(header.code, header.message, header.notExecuted, header.metadata);
      }
    }
  }

  /** The server broke the rules of one stream: that stream alone ends (reset with CANCEL, fails here). */
  private streamError(stream: TcpClientStream, code: Code, message: string): void {
    this.cancelStream(stream, code, message);
    stream.finish(new RpcError(code, message));
  }

  onFrame(type: FrameType, streamId: number, buf: Buffer, headerStart: number, headerEnd: number, bodyEnd: number): void {
    if (!this.handshaken && type !== FrameType.SETTINGS && type !== FrameType.GOAWAY) {
      return this.onProtocolError(`expected SETTINGS as the server's first frame, got ${FRAME_TYPE_NAMES[type]}`);
    }
    switch (type) {
      case FrameType.RESPONSE:
        return this.onResponse(streamId, buf, headerStart, headerEnd, bodyEnd);
      case FrameType.PONG:
        return this.onPong(buf, headerEnd);
      case FrameType.PING:
        if (!this.pingLimit.allow()) {
          return this.destroy(`${this.label} sent more than ${this.options.maxPingsPerSecond} PINGs in a second`);
        }
        this.batcher.write(encodeBareFrame(FrameType.PONG, 0, buf.subarray(headerEnd, bodyEnd)));
        return;
      case FrameType.SETTINGS:
        return this.onSettings(buf, headerStart, headerEnd);
      case FrameType.GOAWAY:
        return this.onGoAway(buf, headerStart, headerEnd);
      case FrameType.STREAM_MESSAGE:
      case FrameType.STREAM_HEADERS:
      case FrameType.STREAM_TRAILERS:
      case FrameType.WINDOW_UPDATE:
        return this.onStreamFrame(type, streamId, buf, headerStart, headerEnd, bodyEnd);
      default:
        return this.onProtocolError(`unexpected frame type ${FRAME_TYPE_NAMES[type]} from a server`);
    }
  }

  /** A RESPONSE this client will not take (over its limits): that call alone fails. */
  onRefusedFrame(type: FrameType, streamId: number, reason: string): void {
    if (type === FrameType.STREAM_MESSAGE && this.handshaken) {
      const stream = this.streams.get(streamId);
      if (stream !== undefined && stream.opened) this.streamError(stream, Code.RESOURCE_EXHAUSTED, `stream message from ${this.label} refused: ${reason}`);
      return;
    }
    if (type !== FrameType.RESPONSE || !this.handshaken) {
      return this.onProtocolError(`unexpected frame type ${FRAME_TYPE_NAMES[type]} from a server (${reason})`);
    }
    const call = this.pending.get(streamId);
    if (call === undefined || !call.sent) return; // expired or cancelled meanwhile
    this.pending.delete(call);
    this.detach(call);
    this.afterCallEnded(true);
    call.fail(new RpcError(Code.RESOURCE_EXHAUSTED, `response from ${this.label} refused: ${reason}; the call may have run`));
  }

  onProtocolError(message: string, peerVersion?: number): void {
    this.decoder.fail();
    if (peerVersion !== undefined) {
      message = peerVersion < PROTOCOL_VERSION
        ? `${this.label} speaks Trellis protocol version ${peerVersion}; this client speaks version ${PROTOCOL_VERSION} (upgrade @trellis/core on the server)`
        : `${this.label} speaks Trellis protocol version ${peerVersion}, newer than this client's ${PROTOCOL_VERSION} (upgrade @trellis/core here)`;
      return this.destroy(message);
    }
    this.destroy(`protocol error from ${this.label}: ${message}`);
  }

  private onSettings(buf: Buffer, headerStart: number, headerEnd: number): void {
    if (this.handshaken) return this.onProtocolError('a second SETTINGS frame');
    try {
      this.peer = decodeSettings(buf, headerStart, headerEnd);
    } catch (error) {
      return this.onProtocolError(`bad SETTINGS: ${(error as Error).message}`);
    }
    this.handshaken = true;
    this.socket.setTimeout(0);
    if (this.state === 'connecting') this.state = 'ready';
    for (const frame of this.pingsBeforeReady.splice(0)) this.batcher.write(frame);
    this.pump();
    const streams = this.streamsBeforeReady;
    this.streamsBeforeReady = [];
    for (const stream of streams) this.startStream(stream);
    this.events.onReady(this);
  }

  private onGoAway(buf: Buffer, headerStart: number, headerEnd: number): void {
    let message = 'server is shutting down';
    let code: number = Code.UNAVAILABLE;
    try {
      const header = decodeResponseHeader(buf, headerStart, headerEnd);
      message = header.message || message;
      code = header.code;
    } catch { /* the GOAWAY itself is what matters */ }
    if (code !== Code.OK && code !== Code.UNAVAILABLE) {
      // The server refuses this connection (protocol error, abuse, certificate): it closes it now.
      // Calls not yet written never ran; those out fail with the server's reason.
      const verb = this.handshaken ? 'closed' : 'refused';
      const reason = `connection to ${this.label} ${verb} by the server: ${message}`;
      this.closedForCause = this.handshaken;
      this.events.onGoAway(this, message, 'error');
      return this.destroy(reason);
    }
    if (this.state !== 'closed') this.state = 'draining';
    this.retired = code === Code.OK;
    this.events.onGoAway(this, message, this.retired ? 'retired' : 'stopping');
    // A retired connection's waiting calls (rare: retirement needs an idle connection) are re-sent
    // by the kernel's transparent retry; a stopping server's go to other endpoints the same way.
    this.failWaiting(`${this.label} sent GOAWAY before the call was written: ${message}`);
    this.closeIfDrained();
  }

  /** The clock reading of the read being decoded, once an answer's sink asked for it (undefined: not yet). */
  private readReading: number | undefined = undefined;
  /**
   * ResponseSink's `arrivedAt`: one clock reading per read, shared by its answers. Under load a read
   * carries a batch of answers (up to the calls in flight), whose sinks each need the attempt's end
   * reading; one reading serves them all, and it is when the bytes arrived rather than when this
   * answer's turn in the batch came.
   */
  private readonly arrivedAt = (): number => (this.readReading ??= this.options.now());

  private onResponse(streamId: number, buf: Buffer, headerStart: number, headerEnd: number, bodyEnd: number): void {
    const call = this.pending.get(streamId);
    if (call === undefined || !call.sent) return; // expired or cancelled: the late answer is dropped
    this.pending.delete(call);
    this.detach(call);
    this.afterCallEnded(true);
    let header;
    try {
      header = decodeResponseHeader(buf, headerStart, headerEnd, this.options.limits.maxMetadataEntries);
    } catch (error) {
      // The frame itself was well delimited: only this call is lost.
      return call.fail(new RpcError(Code.INTERNAL, `malformed response header from ${this.label}: ${(error as Error).message}`));
    }
    if (header.code === Code.OK) {
      call.sink.onResponse(buf.subarray(headerEnd, bodyEnd), header.metadata, this.arrivedAt);
    } else {
      call.fail(new RpcError(header.code, header.message || Code[header.code] || 'error', {
        mayHaveRun: !header.notExecuted,
        metadata: header.metadata,
      }));
    }
  }

  private onPong(buf: Buffer, headerEnd: number): void {
    const id = buf.readDoubleBE(headerEnd);
    const ping = this.pings.get(id);
    if (ping === undefined) return;
    this.pings.delete(id);
    clearTimeout(ping.timer);
    ping.resolve(this.options.now() - ping.at);
  }

  private afterCallEnded(wasSent: boolean): void {
    if (wasSent) {
      this.sentCount--;
      if (this.waitingHead < this.waiting.length) this.pump();
    }
    this.closeIfDrained();
  }

  private detach(call: PendingCall): void {
    this.options.timer.remove(call);
    if (call.abortListener !== undefined) call.signal!.removeEventListener('abort', call.abortListener);
  }

  private closeIfDrained(): void {
    if (this.state === 'draining' && this.pending.size === 0 && this.streams.size === 0) this.destroy('drained after GOAWAY');
  }

  private allocateStreamId(): number {
    const id = this.nextStreamId;
    this.nextStreamId = id >= 0x7fffffff ? 1 : id + 1;
    return id;
  }

  private onSocketClosed(): void {
    const wasConnected = this.handshaken;
    this.state = 'closed';
    this.decoder.fail();
    let hint = '';
    if (this.transportUp && !this.received) {
      hint = this.options.tls
        // A server that checks client certificates itself (Node's rejectUnauthorized) just closes.
        ? ' right after the TLS handshake: probably certificate not accepted by the server (mutual TLS: check tcp.tls.cert and key against the server\'s ca)'
        : ' before sending a byte (a TLS-only server? then set tcp.tls on the client)';
    }
    const reason = this.closeReason || `connection to ${this.label} closed by the peer${hint}`;
    const calls = this.pending.values();
    this.pending.clear();
    for (const call of calls) {
      this.detach(call);
      call.request = undefined;
      call.fail(new RpcError(Code.UNAVAILABLE, reason, { mayHaveRun: call.sent }));
    }
    this.waiting = [];
    this.waitingHead = 0;
    const streams = [...this.streams.values()];
    this.streams.clear();
    this.streamsBeforeReady = [];
    this.blockedSenders = [];
    for (const stream of streams) stream.finish(new RpcError(Code.UNAVAILABLE, reason, { mayHaveRun: stream.opened }));
    for (const ping of this.pings.values()) {
      clearTimeout(ping.timer);
      ping.reject(new RpcError(Code.UNAVAILABLE, reason, { mayHaveRun: false }));
    }
    this.pings.clear();
    this.events.onClosed(this, wasConnected, reason);
  }
}
