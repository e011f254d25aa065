import { FIXED_HEADER_SIZE, MAGIC_0, MAGIC_1, MAX_FRAME_TYPE, PROTOCOL_VERSION, type FrameLimits, type FrameType } from './frame.js';

export interface FrameSink {
  /** `buf[headerStart, headerEnd)` is the protobuf header, `buf[headerEnd, bodyEnd)` the body. */
  onFrame(type: FrameType, streamId: number, buf: Buffer, headerStart: number, headerEnd: number, bodyEnd: number): void;
  /** The peer broke the protocol; the connection must be closed. Called at most once. */
  onProtocolError(message: string): void;
}

/**
 * Splits a byte stream into frames. The fixed header is validated (magic, version, type, lengths
 * against the limits) before any payload is buffered, so a hostile length cannot make us allocate.
 * Frames inside one chunk are delivered as views of that chunk — no copy.
 */
export class FrameDecoder {
  private pending: Buffer | undefined;
  private failed = false;

  constructor(private readonly limits: FrameLimits, private readonly sink: FrameSink) {}

  push(chunk: Buffer): void {
    if (this.failed) return;
    let buf = chunk;
    if (this.pending !== undefined) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    let offset = 0;
    const length = buf.length;
    while (length - offset >= FIXED_HEADER_SIZE) {
      const error = this.checkHeader(buf, offset);
      if (error !== undefined) {
        this.failed = true;
        this.sink.onProtocolError(error);
        return;
      }
      const headerLength = buf.readUInt16BE(offset + 6);
      const bodyLength = buf.readUInt32BE(offset + 12);
      const frameEnd = offset + FIXED_HEADER_SIZE + headerLength + bodyLength;
      if (frameEnd > length) break;
      const headerStart = offset + FIXED_HEADER_SIZE;
      this.sink.onFrame(buf[offset + 3] as FrameType, buf.readUInt32BE(offset + 8), buf, headerStart, headerStart + headerLength, frameEnd);
      if (this.failed) return;
      offset = frameEnd;
    }
    if (offset < length) this.pending = offset === 0 ? buf : buf.subarray(offset);
  }

  /** Stops delivering frames (the connection is being torn down). */
  fail(): void {
    this.failed = true;
    this.pending = undefined;
  }

  private checkHeader(buf: Buffer, offset: number): string | undefined {
    if (buf[offset] === 0x16 && buf[offset + 1] === 0x03) {
      return 'a TLS client connected to a plaintext port (enable tcp.tls on the server, or connect without TLS)';
    }
    if (buf[offset] !== MAGIC_0 || buf[offset + 1] !== MAGIC_1) {
      return `not a Trellis peer: bad magic 0x${buf.toString('hex', offset, offset + 2)} ` +
        `(${JSON.stringify(buf.toString('latin1', offset, offset + 4))}), expected 0x5452 ("TR")`;
    }
    if (buf[offset + 2] !== PROTOCOL_VERSION) {
      return `unsupported protocol version ${buf[offset + 2]}; this peer speaks version ${PROTOCOL_VERSION}`;
    }
    const type = buf[offset + 3]!;
    if (type === 0 || type > MAX_FRAME_TYPE) return `unknown frame type ${type}`;
    const headerLength = buf.readUInt16BE(offset + 6);
    if (headerLength > this.limits.maxHeaderSize) {
      return `frame header of ${headerLength} bytes exceeds the limit of ${this.limits.maxHeaderSize} (maxHeaderSize)`;
    }
    const bodyLength = buf.readUInt32BE(offset + 12);
    if (bodyLength > this.limits.maxBodySize) {
      return `frame body of ${bodyLength} bytes exceeds the limit of ${this.limits.maxBodySize} (maxBodySize)`;
    }
    return undefined;
  }
}
