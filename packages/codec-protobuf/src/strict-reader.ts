import * as protobuf from 'protobufjs';

/**
 * protobufjs's BufferReader#string clamps a length that runs past the end of the input instead of
 * throwing (protobufjs 7.x; grpc-js and proto-loader share the flaw), so a body cut inside a string
 * decodes "successfully" to a shorter string. Every other read is bounds-checked; this reader checks
 * strings as well, so truncated input always throws.
 */
class StrictBufferReader extends protobuf.BufferReader {
  override string(): string {
    const length = this.uint32();
    const start = this.pos;
    const end = start + length;
    if (end > this.len) throw new RangeError(`index out of range: ${start} + ${length} > ${this.len}`);
    this.pos = end;
    // utf8Slice is what protobufjs itself calls: Buffer#toString without the encoding dispatch.
    return (this.buf as Buffer & { utf8Slice(start: number, end: number): string }).utf8Slice(start, end);
  }
}

/** A reader over `bytes` without copying; a plain Uint8Array is viewed as a Buffer. */
export function strictReader(bytes: Uint8Array): protobuf.Reader {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return new StrictBufferReader(buffer);
}
