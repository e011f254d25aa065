import {
  FIXED_HEADER_SIZE, FRAME_TYPE_NAMES, FrameType, MAGIC_0, MAGIC_1, MAX_FRAME_TYPE, MAX_STREAM_ID, PING_BODY_SIZE, PROTOCOL_VERSION,
  WINDOW_UPDATE_BODY_SIZE, type FrameLimits,
} from './frame.js';

export interface FrameSink {
  /** `buf[headerStart, headerEnd)` is the protobuf header, `buf[headerEnd, bodyEnd)` the body. */
  onFrame(type: FrameType, streamId: number, buf: Buffer, headerStart: number, headerEnd: number, bodyEnd: number): void;
  /**
   * A REQUEST or RESPONSE frame this side will not take — over a size limit, or no room left in the
   * partial-frame budget. Its payload is skipped as it arrives, never buffered; the sink answers for
   * that stream only (or calls fail() when the frame is not acceptable at all).
   */
  onRefusedFrame(type: FrameType, streamId: number, reason: string): void;
  /**
   * The peer broke the framing; the connection must be closed. Called at most once. `peerVersion` is
   * set when the frame carried another protocol version (the reply can then be written in it).
   */
  onProtocolError(message: string, peerVersion?: number): void;
}

/** Bytes of partial frames held across a whole server, shared by its connections. */
export interface PartialFrameBudget {
  /** Reserves room for bytes about to be held; false when that would pass the cap. */
  take(bytes: number): boolean;
  give(bytes: number): void;
  /** Why take() refused, naming the limit. */
  readonly refusal: string;
}

/** Frames up to this size never ask the budget: they cannot add up to much, and PINGs must not be refused. */
const SMALL_FRAME = 1024;

const OK = 0;
const REFUSE = 1;
const ERROR = 2;

/**
 * Splits a byte stream into frames. The fixed header is validated (magic, version, type, stream id,
 * lengths) before any payload is held, so a hostile length cannot make us allocate.
 *
 * Frames wholly inside one chunk — the hot path — are delivered as views of that chunk, no copy. A
 * frame spread over several chunks is collected as a list of chunk views and copied once when it is
 * complete, so assembly is linear in the frame size (concatenating on every chunk was quadratic: 90 s
 * for a 64 MiB frame in 64 KiB chunks). Only bytes that actually arrived are held; the budget, when
 * given, caps them across connections. A stream frame over the limits is skipped, not buffered.
 */
export class FrameDecoder {
  private failed = false;
  // The frame in progress across chunks.
  private type = 0;
  private streamId = 0;
  private headerLength = 0;
  private frameSize = 0;
  /** Its fixed header while fewer than 16 bytes of it arrived. */
  private head: Buffer | undefined;
  private headFill = 0;
  private parts: Buffer[] = [];
  private held = 0;
  private budgeted = 0;
  private skipping = 0;
  private reason = '';
  /** Set when the last frame inspected carried another protocol version. */
  private peerVersion: number | undefined;
  /** Bytes of the frame in progress received so far (held or skipped): the receive-rate guard reads it. */
  frameBytes = 0;
  /** Counts partial frames completed: the receive-rate guard tells "still the same frame" by it. */
  completedPartials = 0;

  constructor(private readonly limits: FrameLimits, private readonly sink: FrameSink, private readonly budget?: PartialFrameBudget) {}

  /** A frame has started and is not complete: the connection is waiting for more of it. */
  get midFrame(): boolean {
    return this.headFill > 0 || this.held > 0 || this.skipping > 0;
  }

  push(chunk: Buffer): void {
    if (this.failed) return;
    let offset = 0;
    const length = chunk.length;
    if (this.midFrame) {
      offset = this.continueFrame(chunk);
      if (this.failed || offset === length) return;
    }
    while (length - offset >= FIXED_HEADER_SIZE) {
      const verdict = this.inspect(chunk, offset);
      if (verdict === ERROR) return this.fail(this.reason);
      const frameEnd = offset + this.frameSize;
      if (verdict === REFUSE) {
        this.sink.onRefusedFrame(this.type, this.streamId, this.reason);
        if (this.failed) return;
        if (frameEnd > length) {
          this.skipping = frameEnd - length;
          this.frameBytes = length - offset;
          return;
        }
        offset = frameEnd;
        continue;
      }
      if (frameEnd > length) break;
      const headerStart = offset + FIXED_HEADER_SIZE;
      this.sink.onFrame(this.type, this.streamId, chunk, headerStart, headerStart + this.headerLength, frameEnd);
      if (this.failed) return;
      offset = frameEnd;
    }
    if (offset < length) this.startFrame(chunk, offset);
  }

  /** Stops delivering frames (the connection is being torn down) and releases what it held. */
  fail(message?: string): void {
    if (this.failed) return;
    this.failed = true;
    this.release();
    this.skipping = 0;
    this.headFill = 0;
    if (message !== undefined) this.sink.onProtocolError(message, this.peerVersion);
  }

  /** The remainder of a chunk begins a frame that continues in later chunks. */
  private startFrame(chunk: Buffer, offset: number): void {
    const rest = chunk.length - offset;
    this.frameBytes = rest;
    if (rest < FIXED_HEADER_SIZE) {
      this.head = Buffer.allocUnsafe(FIXED_HEADER_SIZE);
      chunk.copy(this.head, 0, offset);
      this.headFill = rest;
      return;
    }
    // inspect() already ran on this header (the loop in push() stopped at it): collect the frame.
    this.hold(chunk.subarray(offset), this.frameSize - rest);
  }

  /** Feeds a chunk to the frame in progress; returns how many of its bytes that frame took. */
  private continueFrame(chunk: Buffer): number {
    let offset = 0;
    if (this.headFill > 0) {
      const head = this.head!;
      offset = Math.min(FIXED_HEADER_SIZE - this.headFill, chunk.length);
      chunk.copy(head, this.headFill, 0, offset);
      this.headFill += offset;
      this.frameBytes += offset;
      if (this.headFill < FIXED_HEADER_SIZE) return offset;
      this.headFill = 0;
      this.head = undefined;
      const verdict = this.inspect(head, 0);
      if (verdict === ERROR) {
        this.fail(this.reason);
        return offset;
      }
      if (verdict === REFUSE) {
        this.sink.onRefusedFrame(this.type, this.streamId, this.reason);
        if (this.failed) return offset;
        this.skipping = this.frameSize - FIXED_HEADER_SIZE;
      } else if (this.frameSize === FIXED_HEADER_SIZE) {
        this.deliver(head);
        return offset;
      } else {
        this.hold(head, this.frameSize - FIXED_HEADER_SIZE);
        if (this.failed) return offset;
      }
    }
    const available = chunk.length - offset;
    if (available === 0) return offset;
    if (this.skipping > 0) {
      const n = Math.min(this.skipping, available);
      this.skipping -= n;
      this.frameBytes += n;
      if (this.skipping === 0) this.completedPartials++;
      return offset + n;
    }
    if (this.held === 0) return offset;
    const n = Math.min(this.frameSize - this.held, available);
    if (this.budgeted > 0 && !this.budget!.take(n)) {
      this.refuseHeld(this.frameSize - this.held - n);
      return offset + n;
    }
    if (this.budgeted > 0) this.budgeted += n;
    this.parts.push(offset === 0 && n === chunk.length ? chunk : chunk.subarray(offset, offset + n));
    this.held += n;
    this.frameBytes += n;
    if (this.held === this.frameSize) {
      const frame = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.frameSize);
      this.release();
      this.deliver(frame);
    }
    return offset + n;
  }

  /** Starts collecting a frame with its first bytes; `missing` bytes are still to come. */
  private hold(first: Buffer, missing: number): void {
    if (this.budget !== undefined && this.frameSize > SMALL_FRAME) {
      if (!this.budget.take(first.length)) {
        this.skipping = missing;
        this.refuse(this.budget.refusal);
        return;
      }
      this.budgeted = first.length;
    }
    this.parts = [first];
    this.held = first.length;
  }

  /** The budget ran out while collecting: drop what is held and skip the rest of the frame. */
  private refuseHeld(remaining: number): void {
    this.frameBytes += this.frameSize - this.held - remaining;
    this.release();
    this.skipping = remaining;
    this.refuse(this.budget!.refusal);
    if (remaining === 0 && !this.failed) this.completedPartials++;
  }

  private refuse(reason: string): void {
    const type = this.type;
    if (type === FrameType.REQUEST || type === FrameType.RESPONSE || type === FrameType.STREAM_MESSAGE || type === FrameType.STREAM_OPEN) {
      this.sink.onRefusedFrame(this.type, this.streamId, reason);
    } else {
      this.fail(reason);
    }
  }

  private deliver(frame: Buffer): void {
    this.completedPartials++;
    this.sink.onFrame(this.type, this.streamId, frame, FIXED_HEADER_SIZE, FIXED_HEADER_SIZE + this.headerLength, this.frameSize);
  }

  private release(): void {
    if (this.budgeted > 0) this.budget!.give(this.budgeted);
    this.budgeted = 0;
    this.parts = [];
    this.held = 0;
  }

  /** Reads and checks a fixed header into this.type/streamId/…; OK, REFUSE (skip, answer per call) or ERROR. */
  private inspect(buf: Buffer, offset: number): number {
    if (buf[offset] !== MAGIC_0 || buf[offset + 1] !== MAGIC_1) {
      if (buf[offset] === 0x16 && buf[offset + 1] === 0x03) {
        this.reason = 'a TLS client connected to a plaintext port (enable tcp.tls on the server, or connect without TLS)';
      } else {
        this.reason = `not a Trellis peer: bad magic 0x${buf.toString('hex', offset, offset + 2)} ` +
          `(${JSON.stringify(buf.toString('latin1', offset, offset + 4))}), expected 0x5452 ("TR")`;
      }
      return ERROR;
    }
    if (buf[offset + 2] !== PROTOCOL_VERSION) {
      this.peerVersion = buf[offset + 2];
      this.reason = `unsupported protocol version ${buf[offset + 2]}; this peer speaks version ${PROTOCOL_VERSION}`;
      return ERROR;
    }
    const type = buf[offset + 3]!;
    if (type === 0 || type > MAX_FRAME_TYPE) {
      this.reason = `unknown frame type ${type}`;
      return ERROR;
    }
    const headerLength = buf.readUInt16BE(offset + 6);
    const streamId = buf.readUInt32BE(offset + 8);
    const bodyLength = buf.readUInt32BE(offset + 12);
    this.type = type;
    this.streamId = streamId;
    this.headerLength = headerLength;
    this.frameSize = FIXED_HEADER_SIZE + headerLength + bodyLength;
    const { maxHeaderSize, maxBodySize } = this.limits;
    switch (type as FrameType) {
      case FrameType.REQUEST:
      case FrameType.RESPONSE:
        if (streamId === 0 || streamId > MAX_STREAM_ID) return this.error(`stream id ${streamId} is outside 1..2^31-1`);
        if (headerLength > maxHeaderSize) return this.refused(`frame header of ${headerLength} bytes exceeds the limit of ${maxHeaderSize} (maxHeaderSize)`);
        if (bodyLength > maxBodySize) return this.refused(`frame body of ${bodyLength} bytes exceeds the limit of ${maxBodySize} (maxBodySize)`);
        return OK;
      case FrameType.CANCEL:
      case FrameType.STREAM_HEADERS:
      case FrameType.STREAM_TRAILERS:
        if (streamId === 0 || streamId > MAX_STREAM_ID) return this.error(`stream id ${streamId} is outside 1..2^31-1`);
        break;
      case FrameType.STREAM_MESSAGE:
        // Per-message limits are the unary ones: an oversize message is refused for its stream alone.
        if (streamId === 0 || streamId > MAX_STREAM_ID) return this.error(`stream id ${streamId} is outside 1..2^31-1`);
        if (headerLength !== 0) return this.error(`a STREAM_MESSAGE with a header of ${headerLength} bytes (it has none)`);
        if (bodyLength > maxBodySize) return this.refused(`stream message of ${bodyLength} bytes exceeds the limit of ${maxBodySize} (maxBodySize)`);
        return OK;
      case FrameType.STREAM_OPEN:
        if (streamId === 0 || streamId > MAX_STREAM_ID) return this.error(`stream id ${streamId} is outside 1..2^31-1`);
        if (bodyLength !== 0) return this.error(`a STREAM_OPEN with a body of ${bodyLength} bytes (it has none)`);
        if (headerLength > maxHeaderSize) return this.refused(`frame header of ${headerLength} bytes exceeds the limit of ${maxHeaderSize} (maxHeaderSize)`);
        return OK;
      case FrameType.STREAM_HALF_CLOSE:
      case FrameType.WINDOW_UPDATE: {
        if (streamId === 0 || streamId > MAX_STREAM_ID) return this.error(`stream id ${streamId} is outside 1..2^31-1`);
        const size = type === FrameType.WINDOW_UPDATE ? WINDOW_UPDATE_BODY_SIZE : 0;
        if (headerLength !== 0 || bodyLength !== size) {
          return this.error(`a ${FRAME_TYPE_NAMES[type]} must carry exactly ${size} bytes, this one has ${headerLength + bodyLength}`);
        }
        return OK;
      }
      case FrameType.PING:
      case FrameType.PONG:
        if (streamId !== 0) return this.error(`a ${type === FrameType.PING ? 'PING' : 'PONG'} on stream ${streamId} (connection frames use stream 0)`);
        if (headerLength !== 0 || bodyLength !== PING_BODY_SIZE) {
          return this.error(`a ${type === FrameType.PING ? 'PING' : 'PONG'} must carry exactly ${PING_BODY_SIZE} bytes, this one has ${headerLength + bodyLength}`);
        }
        return OK;
      default: // SETTINGS, GOAWAY
        if (streamId !== 0) return this.error(`a connection frame (type ${type}) on stream ${streamId} (connection frames use stream 0)`);
    }
    if (bodyLength !== 0) return this.error(`a frame of type ${type} with a body of ${bodyLength} bytes (it has none)`);
    if (headerLength > maxHeaderSize) return this.error(`frame header of ${headerLength} bytes exceeds the limit of ${maxHeaderSize} (maxHeaderSize)`);
    return OK;
  }

  private error(reason: string): number {
    this.reason = reason;
    return ERROR;
  }

  private refused(reason: string): number {
    this.reason = reason;
    return REFUSE;
  }
}
