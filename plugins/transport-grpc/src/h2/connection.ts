import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import {
  DEFAULT_WINDOW, ErrorCode, Flag, FRAME_HEADER_LENGTH, FrameType, MAX_FRAME_SIZE, MAX_WINDOW, MIN_FRAME_SIZE, PREFACE, Setting,
} from './constants.js';
import { HpackDecoder, HpackError } from './hpack-decoder.js';
import { HpackEncoder, type OutgoingHeaders } from './hpack-encoder.js';
import { H2Stream, type IncomingHeaders } from './stream.js';

/** The limits one connection enforces (the engine's options, resolved). */
export interface ConnectionLimits {
  /** SETTINGS_MAX_CONCURRENT_STREAMS: streams beyond it are refused (RST_STREAM REFUSED_STREAM). */
  readonly maxConcurrentStreams: number;
  /** SETTINGS_INITIAL_WINDOW_SIZE: each stream's receive window. */
  readonly initialWindowSize: number;
  /** The connection's receive window (raised from 65,535 by a WINDOW_UPDATE at the start). */
  readonly connectionWindowSize: number;
  /** SETTINGS_MAX_FRAME_SIZE: a larger frame is a connection error FRAME_SIZE_ERROR. */
  readonly maxFrameSize: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE: a larger request header list is refused (RST_STREAM). */
  readonly maxHeaderListSize: number;
  /** SETTINGS_HEADER_TABLE_SIZE: the HPACK decoder's dynamic table. */
  readonly headerTableSize: number;
  /** Bytes of answers (PING/SETTINGS acks, responses) the peer may leave unread before ENHANCE_YOUR_CALM. */
  readonly maxOutputBytes: number;
  /** Streams the peer may reset per second before ENHANCE_YOUR_CALM (the "rapid reset" attack). */
  readonly maxResetsPerSecond: number;
  /** How long the peer has to acknowledge our SETTINGS before GOAWAY SETTINGS_TIMEOUT (§6.5.3); 0 = no limit. */
  readonly settingsTimeoutMs: number;
  /**
   * Bytes written to the socket that the kernel has not taken yet, above which no more DATA leaves the
   * streams' queues (so their write() returns false and handlers wait) until the socket drains.
   */
  readonly writeHighWaterMark: number;
}

/** CONTINUATION frames tolerated in one header block (a flood of empty ones is an attack). */
const MAX_CONTINUATIONS = 128;
/**
 * After a connection error the socket is half-closed at once, right behind the GOAWAY; this is how
 * long the engine then waits for the peer to close its side before it closes the socket itself. The
 * same bound applies to a destroyed connection whose peer has not taken the last bytes written.
 */
const ERROR_CLOSE_MS = 1000;
/** Closed streams remembered per kind (reset by us / by the peer) to tell late frames from errors (§5.1). */
const MAX_REMEMBERED_RESETS = 1024;
/** Request header blocks up to this size are cached decoded, up to this many per connection. */
const MAX_CACHED_BLOCK = 256;
const MAX_CACHED_BLOCKS = 64;
const CONNECTION_HEADERS: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);
const BAD_VALUE = /[\0\r\n]/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

interface PendingBlock {
  readonly streamId: number;
  readonly endStream: boolean;
  readonly chunks: Buffer[];
  length: number;
}

interface PendingPing {
  readonly id: number;
  readonly started: number;
  readonly callback: (error: Error | null, durationMs: number) => void;
}

function flushConnection(connection: H2Connection): void {
  connection.flush();
}

function emitClose(connection: H2Connection): void {
  connection.emit('close');
}

function destroyConnection(connection: H2Connection): void {
  connection.destroy();
}

function destroySocket(socket: Socket): void {
  socket.destroy();
}

function settingsTimedOut(connection: H2Connection, ms: number): void {
  connection.settingsTimeout(ms);
}

/** Adds `id` to a bounded record of closed streams (the oldest is forgotten first). */
function remember(ids: Set<number>, id: number): void {
  ids.add(id);
  if (ids.size > MAX_REMEMBERED_RESETS) ids.delete(ids.values().next().value!);
}

/**
 * One server-side HTTP/2 connection (RFC 9113) on a socket: the frame parser with its limits, HPACK,
 * flow control both ways, PING, RST_STREAM, GOAWAY. It has the part of node:http2's Http2Session a
 * gRPC server uses (events 'stream', 'ping', 'close', 'protocolError'; close, destroy, goaway, ping,
 * setTimeout). Frames written in one tick leave in one socket write.
 *
 * Protocol errors are answered as the RFC says: a connection error sends GOAWAY with its code, stops
 * reading and closes the connection right behind it (§5.4.1); a stream error sends RST_STREAM and the
 * connection goes on. A peer that does not acknowledge our SETTINGS within `settingsTimeoutMs` gets
 * GOAWAY SETTINGS_TIMEOUT (§6.5.3).
 */
export class H2Connection extends EventEmitter {
  private readonly streams = new Map<number, H2Stream>();
  private readonly decoder: HpackDecoder;
  private readonly encoder = new HpackEncoder();
  private readonly validNames = new Set<string>();
  /** Decoded request blocks that left the HPACK table as it was, by their bytes (see onHeaderBlock). */
  private readonly decodedBlocks = new Map<string, IncomingHeaders>();
  private decodedGeneration = 0;
  private lastStreamId = 0;
  private prefaceSeen = false;
  private settingsSeen = false;
  private settingsAcked = false;
  private settingsTimer: NodeJS.Timeout | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  /**
   * Closed streams we reset (RST_STREAM sent: the peer's frames in flight are ignored, §5.1) and
   * streams the peer reset (HEADERS on them is a stream error STREAM_CLOSED); any other closed
   * stream was ended by both sides, and HEADERS on it is a connection error STREAM_CLOSED.
   */
  private readonly resetSent = new Set<number>();
  private readonly resetReceived = new Set<number>();
  /**
   * Unparsed input: the first part, the chunks after it, their total and the bytes needed before
   * parsing can move on (the rest of the preface, a frame header, or the whole frame). Chunks are
   * joined once that many have arrived, not on every chunk: a peer dribbling a 16 KiB frame a byte
   * at a time would otherwise make the server copy ≈ 134 MB for it.
   */
  private input: Buffer | undefined;
  private inputMore: Buffer[] = [];
  private inputBytes = 0;
  private inputNeed = 0;
  private block: PendingBlock | undefined;
  private continuations = 0;
  private out: Buffer[] = [];
  private outBytes = 0;
  private flushScheduled = false;
  /**
   * The header of the DATA frame last pushed to `out` while nothing else followed it: DATA for the same
   * stream written in the same tick joins that frame (up to the peer's frame size), as nghttp2 packs a
   * stream's queued writes. One DATA frame per gRPC message cost a node:http2 client ≈ 70 % more CPU per
   * streamed message (2.3 → 3.9 µs in bench:grpc's server-stream point).
   */
  private openData: Buffer | undefined;
  private openDataStream = 0;
  private openDataLength = 0;
  /** The socket's buffer is full: streams hold their DATA until 'drain'. */
  congested = false;
  /**
   * limits.writeHighWaterMark, but never below the socket's own high-water mark: a socket.write() that
   * takes the buffer to this mark must return false, or no 'drain' would come to release the streams.
   */
  private readonly writeHighWaterMark: number;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrameSize = MIN_FRAME_SIZE;
  private sendWindow = DEFAULT_WINDOW;
  private recvWindow: number;
  private recvUnacked = 0;
  private readonly blocked = new Set<H2Stream>();
  private readonly pings: PendingPing[] = [];
  private pingCounter = 0;
  private resetWindowStart = 0;
  private resetCount = 0;
  /** GOAWAY sent: no new streams. */
  private goingAway = false;
  /** A connection error: no more frames are read. */
  private inputClosed = false;
  private closeEmitted = false;
  closed = false;
  destroyed = false;

  constructor(readonly socket: Socket, private readonly limits: ConnectionLimits) {
    super();
    this.decoder = new HpackDecoder(limits.headerTableSize);
    this.recvWindow = limits.connectionWindowSize;
    this.writeHighWaterMark = Math.max(limits.writeHighWaterMark, socket.writableHighWaterMark);
    socket.on('data', (chunk: Buffer) => this.onSocketData(chunk));
    socket.on('drain', () => this.onSocketDrain());
    socket.on('error', () => this.destroy());
    socket.on('end', () => this.destroy());
    socket.on('close', () => this.onSocketClose());
    const settings: number[] = [Setting.MAX_CONCURRENT_STREAMS, limits.maxConcurrentStreams, Setting.MAX_HEADER_LIST_SIZE, limits.maxHeaderListSize];
    if (limits.initialWindowSize !== DEFAULT_WINDOW) settings.push(Setting.INITIAL_WINDOW_SIZE, limits.initialWindowSize);
    if (limits.maxFrameSize !== MIN_FRAME_SIZE) settings.push(Setting.MAX_FRAME_SIZE, limits.maxFrameSize);
    if (limits.headerTableSize !== 4096) settings.push(Setting.HEADER_TABLE_SIZE, limits.headerTableSize);
    const payload = Buffer.alloc(settings.length * 3);
    for (let i = 0; i < settings.length; i += 2) {
      payload.writeUInt16BE(settings[i]!, i * 3);
      payload.writeUInt32BE(settings[i + 1]!, i * 3 + 2);
    }
    this.writeFrame(FrameType.SETTINGS, 0, 0, payload);
    if (limits.connectionWindowSize > DEFAULT_WINDOW) this.writeWindowUpdate(0, limits.connectionWindowSize - DEFAULT_WINDOW);
    if (limits.settingsTimeoutMs > 0) this.settingsTimer = setTimeout(settingsTimedOut, limits.settingsTimeoutMs, this, limits.settingsTimeoutMs).unref();
  }

  /** The peer did not acknowledge our SETTINGS in time: a connection error (§6.5.3). */
  settingsTimeout(ms: number): void {
    this.settingsTimer = undefined;
    if (!this.settingsAcked) this.connectionError(ErrorCode.SETTINGS_TIMEOUT, `the peer did not acknowledge SETTINGS within ${ms} ms`);
  }

  /** Starts reading (the socket may have been paused by protocol detection). */
  start(): void {
    this.socket.resume();
  }

  // ---- the session API the gRPC server uses ----

  /** Graceful stop: GOAWAY NO_ERROR with the last stream id; open streams finish, then the socket ends. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sendGoaway(ErrorCode.NO_ERROR, this.lastStreamId);
    if (this.streams.size === 0) this.endSocket();
  }

  /** Sends GOAWAY with `code` (the caller usually destroys the connection next). */
  goaway(code: number = ErrorCode.NO_ERROR, lastStreamId = this.lastStreamId, data?: Buffer): void {
    if (this.destroyed) return;
    this.sendGoaway(code, lastStreamId, data);
  }

  /**
   * Ends the connection now: open streams close, written frames are flushed, the socket ends (and is
   * destroyed ERROR_CLOSE_MS later if the peer has not taken them by then). With a `code` (node:http2's
   * signature; `error` is not used), a final GOAWAY carries it and the socket is destroyed at once,
   * dropping what the peer has not taken: for a peer that is known not to read.
   */
  destroy(error?: Error, code?: number): void {
    if (this.destroyed) return;
    if (code !== undefined) this.sendGoaway(code, this.lastStreamId);
    this.destroyed = true;
    this.closed = true;
    this.inputClosed = true;
    this.clearTimers();
    for (const stream of this.streams.values()) stream.destroy();
    this.streams.clear();
    this.blocked.clear();
    this.flush();
    for (const ping of this.pings.splice(0)) ping.callback(new Error('the connection closed'), 0);
    if (code !== undefined) this.socket.destroy();
    else this.socket.destroySoon();
    // destroySoon() waits until the peer has taken every written byte: a peer that stopped reading would
    // keep the socket, and all that was queued for it, after the connection is gone from the server's
    // count. It gets ERROR_CLOSE_MS to take them, then the socket and its bytes are dropped.
    if (!this.socket.destroyed && this.socket.writableLength > 0) setTimeout(destroySocket, ERROR_CLOSE_MS, this.socket).unref();
    if (!this.closeEmitted) {
      this.closeEmitted = true;
      process.nextTick(emitClose, this);
    }
  }

  /**
   * Sends a PING; `callback` gets the round trip. A connection that can no longer answer (after a
   * connection error) takes the PING as sent, so the keepalive round that asked reaps it.
   */
  ping(callback: (error: Error | null, durationMs: number) => void): boolean {
    if (this.destroyed) throw new Error('the connection is closed');
    if (this.inputClosed) return true;
    const id = ++this.pingCounter;
    const payload = Buffer.alloc(8);
    payload.writeUInt32BE(id, 4);
    this.pings.push({ id, started: performance.now(), callback });
    this.writeFrame(FrameType.PING, 0, 0, payload);
    return true;
  }

  /** Calls `callback` after `ms` without socket activity. */
  setTimeout(ms: number, callback: () => void): void {
    this.socket.setTimeout(ms);
    this.socket.on('timeout', callback);
  }

  // ---- frames in ----

  private onSocketData(chunk: Buffer): void {
    if (this.inputClosed) return;
    let buffer = chunk;
    if (this.input !== undefined) {
      this.inputMore.push(chunk);
      this.inputBytes += chunk.length;
      if (this.inputBytes < this.inputNeed) return;
      buffer = Buffer.concat([this.input, ...this.inputMore], this.inputBytes);
      this.inputMore = [];
    }
    this.input = undefined;
    let offset = 0;
    if (!this.prefaceSeen) {
      const n = Math.min(buffer.length, PREFACE.length);
      if (buffer.compare(PREFACE, 0, n, 0, n) !== 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'the connection did not start with the HTTP/2 preface');
      if (n < PREFACE.length) {
        this.keepInput(buffer, PREFACE.length);
        return;
      }
      this.prefaceSeen = true;
      offset = PREFACE.length;
    }
    const end = buffer.length;
    while (end - offset >= FRAME_HEADER_LENGTH && !this.inputClosed) {
      const length = (buffer[offset]! << 16) | (buffer[offset + 1]! << 8) | buffer[offset + 2]!;
      if (length > this.limits.maxFrameSize) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, `a frame of ${length} bytes exceeds SETTINGS_MAX_FRAME_SIZE ${this.limits.maxFrameSize}`);
      if (end - offset - FRAME_HEADER_LENGTH < length) break;
      const type = buffer[offset + 3]!;
      const flags = buffer[offset + 4]!;
      const streamId = buffer.readUInt32BE(offset + 5) & 0x7fff_ffff;
      const start = offset + FRAME_HEADER_LENGTH;
      offset = start + length;
      this.onFrame(type, flags, streamId, buffer.subarray(start, offset));
    }
    if (offset < end && !this.inputClosed) {
      const rest = offset === 0 ? buffer : buffer.subarray(offset);
      const need = rest.length < FRAME_HEADER_LENGTH ? FRAME_HEADER_LENGTH : FRAME_HEADER_LENGTH + ((rest[0]! << 16) | (rest[1]! << 8) | rest[2]!);
      this.keepInput(rest, need);
    }
  }

  private keepInput(rest: Buffer, need: number): void {
    this.input = rest;
    this.inputBytes = rest.length;
    this.inputNeed = need;
  }

  private onFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (!this.settingsSeen) {
      if (type !== FrameType.SETTINGS || (flags & Flag.ACK) !== 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'the first frame was not SETTINGS');
      this.settingsSeen = true;
    }
    if (this.block !== undefined && type !== FrameType.CONTINUATION) {
      return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'a header block was interrupted by another frame');
    }
    switch (type) {
      case FrameType.DATA: return this.onData(flags, streamId, payload);
      case FrameType.HEADERS: return this.onHeaders(flags, streamId, payload);
      case FrameType.PRIORITY: return this.onPriority(streamId, payload);
      case FrameType.RST_STREAM: return this.onRstStream(streamId, payload);
      case FrameType.SETTINGS: return this.onSettings(flags, streamId, payload);
      case FrameType.PUSH_PROMISE: return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'a client sent PUSH_PROMISE');
      case FrameType.PING: return this.onPing(flags, streamId, payload);
      case FrameType.GOAWAY: return this.onGoaway(streamId, payload);
      case FrameType.WINDOW_UPDATE: return this.onWindowUpdate(streamId, payload);
      case FrameType.CONTINUATION: return this.onContinuation(flags, streamId, payload);
      default: return undefined; // Unknown frame types are ignored (RFC 9113 §4.1).
    }
  }

  /** The payload without its padding (PADDED flag), or undefined after a connection error. */
  private unpad(flags: number, payload: Buffer, skip = 0): Buffer | undefined {
    if ((flags & Flag.PADDED) === 0) return skip === 0 ? payload : payload.length < skip ? this.tooShort() : payload.subarray(skip);
    if (payload.length < 1 + skip) return this.tooShort();
    const pad = payload[0]!;
    if (pad > payload.length - 1 - skip) {
      this.connectionError(ErrorCode.PROTOCOL_ERROR, 'padding longer than the frame');
      return undefined;
    }
    return payload.subarray(1 + skip, payload.length - pad);
  }

  private tooShort(): undefined {
    this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'a frame too short for its fields');
    return undefined;
  }

  private onData(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'DATA on stream 0');
    const data = this.unpad(flags, payload);
    if (data === undefined) return;
    // The whole frame counts against both windows, padding included (§6.9.1).
    this.recvWindow -= payload.length;
    if (this.recvWindow < 0) return this.connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'DATA beyond the connection window');
    this.creditConnection(payload.length);
    const stream = this.streams.get(streamId);
    if (stream === undefined) {
      if (streamId > this.lastStreamId) return this.connectionError(ErrorCode.PROTOCOL_ERROR, `DATA on idle stream ${streamId}`);
      return; // A stream closed or reset already: frames in flight are ignored (§5.1).
    }
    if (stream.remoteEnded) return this.resetStream(stream, ErrorCode.STREAM_CLOSED);
    stream.recvWindow -= payload.length;
    const slack = this.settingsAcked ? 0 : Math.max(0, DEFAULT_WINDOW - this.limits.initialWindowSize);
    if (stream.recvWindow < -slack) return this.resetStream(stream, ErrorCode.FLOW_CONTROL_ERROR);
    if (payload.length !== data.length) this.consumed(stream, payload.length - data.length);
    if (data.length > 0) stream.onData(data);
    if ((flags & Flag.END_STREAM) !== 0 && !stream.destroyed) stream.onEnd();
  }

  private onHeaders(flags: number, streamId: number, payload: Buffer): void {
    if (streamId === 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'HEADERS on stream 0');
    const fragment = this.unpad(flags, payload, (flags & Flag.PRIORITY) !== 0 ? 5 : 0);
    if (fragment === undefined) return;
    if ((flags & Flag.PRIORITY) !== 0) {
      const offset = (flags & Flag.PADDED) !== 0 ? 1 : 0;
      if ((payload.readUInt32BE(offset) & 0x7fff_ffff) === streamId) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'a stream depends on itself');
    }
    const endStream = (flags & Flag.END_STREAM) !== 0;
    if ((flags & Flag.END_HEADERS) !== 0) return this.onHeaderBlock(streamId, endStream, fragment);
    this.block = { streamId, endStream, chunks: [fragment], length: fragment.length };
    this.continuations = 0;
    this.checkBlockSize();
  }

  private onContinuation(flags: number, streamId: number, payload: Buffer): void {
    const block = this.block;
    if (block === undefined || block.streamId !== streamId) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'CONTINUATION without the HEADERS it continues');
    if (++this.continuations > MAX_CONTINUATIONS) return this.connectionError(ErrorCode.ENHANCE_YOUR_CALM, `more than ${MAX_CONTINUATIONS} CONTINUATION frames in one header block`);
    block.chunks.push(payload);
    block.length += payload.length;
    if (!this.checkBlockSize()) return;
    if ((flags & Flag.END_HEADERS) === 0) return;
    this.block = undefined;
    this.onHeaderBlock(streamId, block.endStream, Buffer.concat(block.chunks, block.length));
  }

  /**
   * A header block that cannot fit the header list limit even at best compression is a connection
   * error: refusing to decode it would leave HPACK out of step, so the connection cannot go on.
   */
  private checkBlockSize(): boolean {
    if (this.block!.length <= this.limits.maxHeaderListSize + 4096) return true;
    this.connectionError(ErrorCode.ENHANCE_YOUR_CALM, `a header block larger than SETTINGS_MAX_HEADER_LIST_SIZE ${this.limits.maxHeaderListSize}`);
    return false;
  }

  private onHeaderBlock(streamId: number, endStream: boolean, block: Buffer): void {
    // A client's requests repeat the same block once its headers are in the dynamic table (indexes
    // only, e.g. 14 bytes from nghttp2). Such a block, decoded and checked once, is reused while the
    // table is unchanged: same bytes + same table = same headers. Blocks that touch the table (or come
    // on an existing stream, or fail a check) are never cached.
    if (this.decodedGeneration !== this.decoder.generation) {
      this.decodedBlocks.clear();
      this.decodedGeneration = this.decoder.generation;
    }
    const key = block.length <= MAX_CACHED_BLOCK ? block.toString('latin1') : undefined;
    const cached = key === undefined ? undefined : this.decodedBlocks.get(key);
    if (cached !== undefined && !this.streams.has(streamId)) return this.openStream(streamId, endStream, cached);
    const fields: string[] = [];
    try {
      this.decoder.decode(block, fields);
    } catch (error) {
      if (error instanceof HpackError) return this.connectionError(ErrorCode.COMPRESSION_ERROR, `invalid HPACK: ${error.message}`);
      throw error;
    }
    const existing = this.streams.get(streamId);
    if (existing !== undefined) {
      // Trailers: they end the request, and carry no pseudo-header (§8.1).
      if (existing.remoteEnded) return this.resetStream(existing, ErrorCode.STREAM_CLOSED);
      if (!endStream) return this.resetStream(existing, ErrorCode.PROTOCOL_ERROR);
      for (let i = 0; i < fields.length; i += 2) if (fields[i]!.charCodeAt(0) === 0x3a) return this.resetStream(existing, ErrorCode.PROTOCOL_ERROR);
      existing.onEnd();
      return;
    }
    if ((streamId & 1) === 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, `a client opened even stream ${streamId}`);
    if (streamId <= this.lastStreamId) return this.onClosedStreamHeaders(streamId);
    this.lastStreamId = streamId;
    if (this.goingAway || this.closed) return this.writeRstStream(streamId, ErrorCode.REFUSED_STREAM);
    if (this.decoder.listSize > this.limits.maxHeaderListSize) return this.writeRstStream(streamId, ErrorCode.PROTOCOL_ERROR);
    if (this.streams.size >= this.limits.maxConcurrentStreams) return this.writeRstStream(streamId, ErrorCode.REFUSED_STREAM);
    const headers = this.requestHeaders(fields);
    if (headers === undefined) return this.writeRstStream(streamId, ErrorCode.PROTOCOL_ERROR);
    if (key !== undefined && this.decoder.generation === this.decodedGeneration && this.decodedBlocks.size < MAX_CACHED_BLOCKS) {
      this.decodedBlocks.set(key, Object.freeze(headers));
    }
    this.startStream(streamId, endStream, headers);
  }

  /** A new stream from a cached block: the checks its first decoding passed, but for the stream's own. */
  private openStream(streamId: number, endStream: boolean, headers: IncomingHeaders): void {
    if ((streamId & 1) === 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, `a client opened even stream ${streamId}`);
    if (streamId <= this.lastStreamId) return this.onClosedStreamHeaders(streamId);
    this.lastStreamId = streamId;
    if (this.goingAway || this.closed) return this.writeRstStream(streamId, ErrorCode.REFUSED_STREAM);
    if (this.streams.size >= this.limits.maxConcurrentStreams) return this.writeRstStream(streamId, ErrorCode.REFUSED_STREAM);
    this.startStream(streamId, endStream, headers);
  }

  /**
   * HEADERS on a closed stream (its block decoded all the same: the HPACK state stays in step), §5.1:
   * after our RST_STREAM the peer's frames in flight are ignored; after the peer's RST_STREAM it is a
   * stream error STREAM_CLOSED; on a stream both sides ended (or one never opened below a later one)
   * a connection error STREAM_CLOSED.
   */
  private onClosedStreamHeaders(streamId: number): void {
    if (this.resetSent.has(streamId)) return;
    if (this.resetReceived.has(streamId)) return this.writeRstStream(streamId, ErrorCode.STREAM_CLOSED);
    this.connectionError(ErrorCode.STREAM_CLOSED, `HEADERS on closed stream ${streamId}`);
  }

  private startStream(streamId: number, endStream: boolean, headers: IncomingHeaders): void {
    const stream = new H2Stream(streamId, this, this.limits.initialWindowSize, this.peerInitialWindow);
    this.streams.set(streamId, stream);
    // Marked before 'stream' so a handler answering at once does not reset a request that is complete.
    stream.remoteEnded = endStream;
    this.emit('stream', stream, headers);
    if (endStream && !stream.destroyed) stream.onEnd();
  }

  /** The request's header object, or undefined when it is malformed (§8.1.1, §8.2, §8.3.1). */
  private requestHeaders(fields: string[]): IncomingHeaders | undefined {
    const headers: IncomingHeaders = Object.create(null) as IncomingHeaders;
    let regular = false;
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i]!;
      const value = fields[i + 1]!;
      if (BAD_VALUE.test(value)) return undefined;
      if (name.charCodeAt(0) === 0x3a) {
        if (regular || headers[name] !== undefined) return undefined;
        if (name !== ':method' && name !== ':path' && name !== ':scheme' && name !== ':authority') return undefined;
        headers[name] = value;
        continue;
      }
      regular = true;
      if (!this.validNames.has(name)) {
        if (!TOKEN.test(name) || CONNECTION_HEADERS.has(name)) return undefined;
        if (this.validNames.size < 1000) this.validNames.add(name);
      }
      if (name === 'te' && value !== 'trailers') return undefined;
      const previous = headers[name];
      if (previous === undefined) headers[name] = value;
      else if (name === 'cookie') headers[name] = `${previous as string}; ${value}`;
      else if (typeof previous === 'string') headers[name] = [previous, value];
      else previous.push(value);
    }
    if (headers[':method'] === undefined || headers[':path'] === undefined || headers[':scheme'] === undefined || headers[':path'] === '') return undefined;
    return headers;
  }

  private onPriority(streamId: number, payload: Buffer): void {
    if (streamId === 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'PRIORITY on stream 0');
    if (payload.length !== 5) {
      const stream = this.streams.get(streamId);
      if (stream !== undefined) this.resetStream(stream, ErrorCode.FRAME_SIZE_ERROR);
      else this.writeRstStream(streamId, ErrorCode.FRAME_SIZE_ERROR);
    }
    // Priorities are ignored (RFC 9113 §5.3.2 deprecates them).
  }

  private onRstStream(streamId: number, payload: Buffer): void {
    if (streamId === 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'RST_STREAM on stream 0');
    if (payload.length !== 4) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'RST_STREAM of a length other than 4');
    if (streamId > this.lastStreamId) return this.connectionError(ErrorCode.PROTOCOL_ERROR, `RST_STREAM on idle stream ${streamId}`);
    const now = performance.now();
    if (now - this.resetWindowStart > 1000) {
      this.resetWindowStart = now;
      this.resetCount = 0;
    }
    if (++this.resetCount > this.limits.maxResetsPerSecond) return this.connectionError(ErrorCode.ENHANCE_YOUR_CALM, 'too many stream resets');
    const stream = this.streams.get(streamId);
    if (stream !== undefined) {
      remember(this.resetReceived, streamId);
      this.removeStream(stream);
    }
  }

  private onSettings(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if ((flags & Flag.ACK) !== 0) {
      if (payload.length !== 0) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'a SETTINGS ACK with a payload');
      this.settingsAcked = true;
      clearTimeout(this.settingsTimer);
      this.settingsTimer = undefined;
      return;
    }
    if (payload.length % 6 !== 0) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS of a length not a multiple of 6');
    let windowGrew = false;
    for (let offset = 0; offset < payload.length; offset += 6) {
      const id = payload.readUInt16BE(offset);
      const value = payload.readUInt32BE(offset + 2);
      if (id === Setting.ENABLE_PUSH && value > 1) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'SETTINGS_ENABLE_PUSH other than 0 or 1');
      if (id === Setting.INITIAL_WINDOW_SIZE) {
        if (value > MAX_WINDOW) return this.connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1');
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const stream of this.streams.values()) {
          stream.sendWindow += delta;
          if (stream.sendWindow > MAX_WINDOW) return this.connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'a stream window above 2^31-1');
        }
        if (delta > 0) windowGrew = true;
      } else if (id === Setting.MAX_FRAME_SIZE) {
        if (value < MIN_FRAME_SIZE || value > MAX_FRAME_SIZE) return this.connectionError(ErrorCode.PROTOCOL_ERROR, `SETTINGS_MAX_FRAME_SIZE ${value} out of range`);
        this.peerMaxFrameSize = value;
      }
      // HEADER_TABLE_SIZE: the encoder never indexes; MAX_CONCURRENT_STREAMS: a server never pushes;
      // MAX_HEADER_LIST_SIZE is advisory; unknown settings are ignored (§6.5.2).
    }
    if (!this.answerAllowed()) return;
    this.writeFrame(FrameType.SETTINGS, Flag.ACK, 0, EMPTY);
    if (windowGrew) this.flushBlocked();
  }

  private onPing(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'PING on a stream');
    if (payload.length !== 8) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'PING of a length other than 8');
    if ((flags & Flag.ACK) !== 0) {
      const id = payload.readUInt32BE(4);
      const index = this.pings.findIndex((ping) => ping.id === id);
      if (index >= 0) {
        const [ping] = this.pings.splice(index, 1);
        ping!.callback(null, performance.now() - ping!.started);
      }
      return;
    }
    if (!this.answerAllowed()) return;
    this.writeFrame(FrameType.PING, Flag.ACK, 0, Buffer.from(payload));
    this.emit('ping', payload);
  }

  private onGoaway(streamId: number, payload: Buffer): void {
    if (streamId !== 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'GOAWAY on a stream');
    if (payload.length < 8) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'GOAWAY shorter than 8 bytes');
    // The client opens no more streams: the connection ends when the open ones are done.
    this.goingAway = true;
    if (this.streams.size === 0) this.endSocket();
  }

  private onWindowUpdate(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) return this.connectionError(ErrorCode.FRAME_SIZE_ERROR, 'WINDOW_UPDATE of a length other than 4');
    const increment = payload.readUInt32BE(0) & 0x7fff_ffff;
    if (streamId === 0) {
      if (increment === 0) return this.connectionError(ErrorCode.PROTOCOL_ERROR, 'a WINDOW_UPDATE of 0');
      this.sendWindow += increment;
      if (this.sendWindow > MAX_WINDOW) return this.connectionError(ErrorCode.FLOW_CONTROL_ERROR, 'the connection window above 2^31-1');
      this.flushBlocked();
      return;
    }
    const stream = this.streams.get(streamId);
    if (stream === undefined) {
      if (streamId > this.lastStreamId) return this.connectionError(ErrorCode.PROTOCOL_ERROR, `WINDOW_UPDATE on idle stream ${streamId}`);
      return;
    }
    if (increment === 0) return this.resetStream(stream, ErrorCode.PROTOCOL_ERROR);
    stream.sendWindow += increment;
    if (stream.sendWindow > MAX_WINDOW) return this.resetStream(stream, ErrorCode.FLOW_CONTROL_ERROR);
    if (stream.queuedBytes > 0) this.flushStream(stream);
  }

  /** A peer that leaves our answers unread cannot make us buffer without bound (PING / SETTINGS floods). */
  private answerAllowed(): boolean {
    if (this.outBytes + this.socket.writableLength <= this.limits.maxOutputBytes) return true;
    this.connectionError(ErrorCode.ENHANCE_YOUR_CALM, 'the peer sends frames to answer but reads no answers');
    return false;
  }

  private connectionError(code: number, reason: string): void {
    if (this.inputClosed) return;
    this.inputClosed = true;
    this.input = undefined;
    this.inputMore = [];
    this.block = undefined;
    this.sendGoaway(code, this.lastStreamId, Buffer.from(reason));
    this.emit('protocolError', reason, code);
    for (const stream of this.streams.values()) stream.destroy();
    this.streams.clear();
    this.blocked.clear();
    this.closed = true;
    this.clearTimers();
    // The connection closes right behind the GOAWAY (§5.4.1): the socket is half-closed after it (FIN)
    // and what the peer still sends is read and dropped — closing with unread input would make the
    // kernel answer with a TCP reset, which can discard the GOAWAY before the peer reads it. The socket
    // is gone when the peer closes its side ('end' → destroy), or ERROR_CLOSE_MS later.
    this.endSocket();
    this.closeTimer = setTimeout(destroyConnection, ERROR_CLOSE_MS, this).unref();
  }

  private clearTimers(): void {
    clearTimeout(this.settingsTimer);
    this.settingsTimer = undefined;
    clearTimeout(this.closeTimer);
    this.closeTimer = undefined;
  }

  // ---- frames out ----

  /** Writes a stream's response headers (HEADERS, then CONTINUATION past the peer's frame size). */
  sendHeaders(stream: H2Stream, headers: OutgoingHeaders, endStream: boolean): void {
    const block = this.encoder.encode(headers);
    const end = endStream ? Flag.END_STREAM : 0;
    if (block.length <= this.peerMaxFrameSize) {
      this.writeFrame(FrameType.HEADERS, Flag.END_HEADERS | end, stream.id, block);
      return;
    }
    let offset = 0;
    let type: number = FrameType.HEADERS;
    while (offset < block.length) {
      const next = Math.min(block.length, offset + this.peerMaxFrameSize);
      const last = next === block.length;
      this.writeFrame(type, (last ? Flag.END_HEADERS : 0) | (type === FrameType.HEADERS ? end : 0), stream.id, block.subarray(offset, next));
      type = FrameType.CONTINUATION;
      offset = next;
    }
  }

  /** Queues DATA on a stream and sends what the windows allow; `endStream` ends it after the last byte. */
  sendData(stream: H2Stream, chunk: Buffer, endStream: boolean): void {
    if (chunk.length > 0) {
      stream.queue.push(chunk);
      stream.queuedBytes += chunk.length;
    }
    if (endStream) stream.endQueued = true;
    this.flushStream(stream);
  }

  private flushStream(stream: H2Stream): void {
    const ending = stream.endQueued;
    while (stream.queuedBytes > 0) {
      // A peer's windows say what it accepts, not what it reads: one that opens them wide and stops
      // reading would otherwise get everything handlers write queued in this process. Past the mark
      // DATA stays in the stream's queue (write() returns false) until the socket drains; a piece may
      // pass the mark by less than one minimum-size frame.
      const room = this.writeHighWaterMark - this.outBytes - this.socket.writableLength;
      const allowed = room <= 0 ? 0 : Math.min(stream.sendWindow, this.sendWindow, this.peerMaxFrameSize, Math.max(room, MIN_FRAME_SIZE));
      if (allowed <= 0) {
        this.blocked.add(stream);
        return;
      }
      const head = stream.queue[0]!;
      let piece = head;
      if (head.length > allowed) {
        piece = head.subarray(0, allowed);
        stream.queue[0] = head.subarray(allowed);
      } else {
        stream.queue.shift();
      }
      stream.queuedBytes -= piece.length;
      stream.sendWindow -= piece.length;
      this.sendWindow -= piece.length;
      const last = ending && stream.queuedBytes === 0;
      this.writeFrame(FrameType.DATA, last ? Flag.END_STREAM : 0, stream.id, piece);
      if (last) {
        this.blocked.delete(stream);
        stream.sentEnd();
        return;
      }
    }
    this.blocked.delete(stream);
    if (ending && !stream.localEnded) {
      this.writeFrame(FrameType.DATA, Flag.END_STREAM, stream.id, EMPTY);
      stream.sentEnd();
      return;
    }
    stream.onDrained();
  }

  private flushBlocked(): void {
    for (const stream of this.blocked) {
      if (this.sendWindow <= 0 || this.outBytes + this.socket.writableLength >= this.writeHighWaterMark) return;
      this.flushStream(stream);
    }
  }

  /** `bytes` of a stream's DATA were delivered: credit them back once half its window is used. */
  consumed(stream: H2Stream, bytes: number): void {
    if (stream.remoteEnded || stream.destroyed) return;
    stream.recvUnacked += bytes;
    if (stream.recvUnacked >= this.limits.initialWindowSize / 2) {
      this.writeWindowUpdate(stream.id, stream.recvUnacked);
      stream.recvWindow += stream.recvUnacked;
      stream.recvUnacked = 0;
    }
  }

  private creditConnection(bytes: number): void {
    this.recvUnacked += bytes;
    if (this.recvUnacked >= this.limits.connectionWindowSize / 2) {
      this.writeWindowUpdate(0, this.recvUnacked);
      this.recvWindow += this.recvUnacked;
      this.recvUnacked = 0;
    }
  }

  /** Resets a stream (RST_STREAM `code`) and forgets it. */
  resetStream(stream: H2Stream, code: number): void {
    if (stream.destroyed) return;
    this.writeRstStream(stream.id, code);
    this.removeStream(stream);
  }

  /** Both ends are closed. */
  streamDone(stream: H2Stream): void {
    this.removeStream(stream);
  }

  /** We ended a stream the peer is still sending on: it is told to stop (RST_STREAM NO_ERROR, §8.1). */
  endedBeforePeer(stream: H2Stream): void {
    this.resetStream(stream, ErrorCode.NO_ERROR);
  }

  private removeStream(stream: H2Stream): void {
    if (this.streams.get(stream.id) === stream) this.streams.delete(stream.id);
    this.blocked.delete(stream);
    stream.destroy();
    if (this.streams.size === 0 && (this.closed || this.goingAway) && !this.destroyed) this.endSocket();
  }

  private writeRstStream(streamId: number, code: number): void {
    remember(this.resetSent, streamId);
    const payload = Buffer.allocUnsafe(4);
    payload.writeUInt32BE(code, 0);
    this.writeFrame(FrameType.RST_STREAM, 0, streamId, payload);
  }

  private writeWindowUpdate(streamId: number, increment: number): void {
    const payload = Buffer.allocUnsafe(4);
    payload.writeUInt32BE(increment, 0);
    this.writeFrame(FrameType.WINDOW_UPDATE, 0, streamId, payload);
  }

  private sendGoaway(code: number, lastStreamId: number, data?: Buffer): void {
    this.goingAway = true;
    const payload = Buffer.alloc(8 + (data?.length ?? 0));
    payload.writeUInt32BE(lastStreamId & 0x7fff_ffff, 0);
    payload.writeUInt32BE(code, 4);
    data?.copy(payload, 8);
    this.writeFrame(FrameType.GOAWAY, 0, 0, payload);
  }

  private writeFrame(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.destroyed) return;
    const length = payload.length;
    const open = this.openData;
    if (open !== undefined && type === FrameType.DATA && streamId === this.openDataStream && this.openDataLength + length <= this.peerMaxFrameSize) {
      const joined = this.openDataLength + length;
      open[0] = joined >>> 16;
      open[1] = (joined >>> 8) & 0xff;
      open[2] = joined & 0xff;
      open[4] = flags;
      this.openDataLength = joined;
      if (length > 0) {
        this.out.push(payload);
        this.outBytes += length;
      }
      if ((flags & Flag.END_STREAM) !== 0) this.openData = undefined;
      return;
    }
    const header = Buffer.allocUnsafe(FRAME_HEADER_LENGTH);
    header[0] = length >>> 16;
    header[1] = (length >>> 8) & 0xff;
    header[2] = length & 0xff;
    header[3] = type;
    header[4] = flags;
    header.writeUInt32BE(streamId, 5);
    this.out.push(header);
    this.outBytes += FRAME_HEADER_LENGTH;
    if (length > 0) {
      this.out.push(payload);
      this.outBytes += length;
    }
    if (type === FrameType.DATA && (flags & Flag.END_STREAM) === 0) {
      this.openData = header;
      this.openDataStream = streamId;
      this.openDataLength = length;
    } else {
      this.openData = undefined;
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(flushConnection, this);
    }
  }

  /** Everything written in this tick goes out in one socket write. */
  flush(): void {
    this.flushScheduled = false;
    this.openData = undefined;
    if (this.out.length === 0) return;
    const bytes = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out, this.outBytes);
    this.out = [];
    this.outBytes = 0;
    if (this.socket.destroyed || !this.socket.writable) return;
    if (!this.socket.write(bytes)) this.congested = true;
  }

  private onSocketDrain(): void {
    this.congested = false;
    this.flushBlocked();
    for (const stream of this.streams.values()) if (stream.needDrain && stream.queuedBytes === 0) stream.onDrained();
  }

  /** Half-closes the socket after what is written (GOAWAY included). */
  private endSocket(): void {
    this.flush();
    if (!this.socket.destroyed && this.socket.writable) this.socket.end();
  }

  private onSocketClose(): void {
    if (!this.destroyed) {
      this.destroyed = true;
      this.closed = true;
      this.clearTimers();
      for (const stream of this.streams.values()) stream.destroy();
      this.streams.clear();
      for (const ping of this.pings.splice(0)) ping.callback(new Error('the connection closed'), 0);
    }
    if (!this.closeEmitted) {
      this.closeEmitted = true;
      this.emit('close');
    }
  }
}

const EMPTY = Buffer.alloc(0);
