import { Code } from '@trellis/core';

/**
 * gRPC's Length-Prefixed-Message: 1 byte compressed flag, 4 bytes big-endian length, the message.
 */
export const PREFIX_SIZE = 5;

export function frameMessage(message: Uint8Array, compressed: boolean): Buffer {
  const frame = Buffer.allocUnsafe(PREFIX_SIZE + message.length);
  frame[0] = compressed ? 1 : 0;
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, PREFIX_SIZE);
  return frame;
}

export interface FramingError {
  readonly code: Code;
  readonly message: string;
}

/** Receives each whole message (an object, not a closure, so a call is its own sink). */
export interface MessageSink {
  onMessage(message: Buffer, compressed: boolean): void;
}

/**
 * Splits a byte stream into messages in linear time: each byte is copied at most once. A message
 * that lies wholly inside one chunk is handed over as a view of that chunk, with no copy; one that
 * spans chunks is copied into a buffer allocated once at its final size, which the prefix announces
 * before a byte of the body is buffered, so the size limit is enforced up front.
 */
export class MessageParser {
  /** Only needed when a prefix is split across chunks (rare): allocated then. */
  private header: Buffer | undefined;
  private headerFill = 0;
  private body: Buffer | undefined;
  private bodyFill = 0;
  private compressed = false;
  private failed: FramingError | undefined;

  constructor(private readonly maxMessageSize: number, private readonly sink: MessageSink) {}

  /** True while a message has started and not yet completed (a stream that ends here is truncated). */
  get partial(): boolean {
    return this.headerFill > 0 || this.body !== undefined;
  }

  /** Feeds one chunk; returns the error that makes the stream unusable (and every later call returns it). */
  push(chunk: Buffer): FramingError | undefined {
    if (this.failed !== undefined) return this.failed;
    const length = chunk.length;
    let offset = 0;
    while (offset < length) {
      if (this.body === undefined) {
        let size: number;
        if (this.headerFill === 0 && length - offset >= PREFIX_SIZE) {
          this.compressed = this.flag(chunk[offset]!);
          size = chunk.readUInt32BE(offset + 1);
          offset += PREFIX_SIZE;
        } else {
          const take = Math.min(PREFIX_SIZE - this.headerFill, length - offset);
          this.header ??= Buffer.allocUnsafe(PREFIX_SIZE);
          chunk.copy(this.header, this.headerFill, offset, offset + take);
          this.headerFill += take;
          offset += take;
          if (this.headerFill < PREFIX_SIZE) return undefined;
          this.headerFill = 0;
          this.compressed = this.flag(this.header[0]!);
          size = this.header.readUInt32BE(1);
        }
        if (this.failed !== undefined) return this.failed;
        if (size > this.maxMessageSize) {
          return (this.failed = {
            code: Code.RESOURCE_EXHAUSTED,
            message: `received a message of ${size} bytes, larger than the limit of ${this.maxMessageSize}`,
          });
        }
        if (length - offset >= size) {
          this.sink.onMessage(chunk.subarray(offset, offset + size), this.compressed);
          offset += size;
          continue;
        }
        this.body = Buffer.allocUnsafe(size);
        this.bodyFill = 0;
      }
      const take = Math.min(this.body.length - this.bodyFill, length - offset);
      chunk.copy(this.body, this.bodyFill, offset, offset + take);
      this.bodyFill += take;
      offset += take;
      if (this.bodyFill === this.body.length) {
        const message = this.body;
        this.body = undefined;
        this.sink.onMessage(message, this.compressed);
      }
    }
    return undefined;
  }

  private flag(byte: number): boolean {
    if (byte > 1) this.failed = { code: Code.INTERNAL, message: `message prefix has flags 0x${byte.toString(16)}; only 0 and 1 are defined` };
    return byte === 1;
  }
}
