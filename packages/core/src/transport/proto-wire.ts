/**
 * Minimal protobuf wire-format helpers for the frame headers. Headers are real protobuf messages
 * (docs/protocol.md gives their schema) but are encoded by hand: they are on every call, and a
 * reflection-based encoder would cost more than the rest of the frame.
 */
export function varintSize(value: number): number {
  if (value < 0x80) return 1;
  if (value < 0x4000) return 2;
  if (value < 0x200000) return 3;
  if (value < 0x10000000) return 4;
  return 5;
}

export function writeVarint(buf: Buffer, offset: number, value: number): number {
  while (value >= 0x80) {
    buf[offset++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  buf[offset++] = value;
  return offset;
}

/** Size of a length-delimited field (tag + length + bytes). */
export function stringFieldSize(fieldNumber: number, byteLength: number): number {
  return varintSize(fieldNumber << 3) + varintSize(byteLength) + byteLength;
}

export function writeStringField(buf: Buffer, offset: number, fieldNumber: number, value: string, byteLength: number): number {
  offset = writeVarint(buf, offset, (fieldNumber << 3) | 2);
  offset = writeVarint(buf, offset, byteLength);
  return offset + buf.write(value, offset, byteLength, byteLength === value.length ? 'latin1' : 'utf8');
}

export function writeVarintField(buf: Buffer, offset: number, fieldNumber: number, value: number): number {
  offset = writeVarint(buf, offset, fieldNumber << 3);
  return writeVarint(buf, offset, value);
}

/** Cursor-based reader; throws WireError on anything malformed. */
/** Node's Buffer has it (undocumented, used by protobufjs too); @types/node does not list it. */
interface Utf8Sliceable {
  utf8Slice(start: number, end: number): string;
}

export class WireReader {
  pos: number;
  /** Where this reader stops; `readEntry` narrows it to one nested message and back (no reader per entry). */
  end: number;
  constructor(public buf: Buffer, start: number, end: number) {
    this.end = end;
    this.pos = start;
  }

  /** Points this reader at another header (a reader reused across headers: no object per decode). */
  reset(buf: Buffer, start: number, end: number): this {
    this.buf = buf;
    this.pos = start;
    this.end = end;
    return this;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.end) throw new WireError('truncated varint');
      const byte = this.buf[this.pos++]!;
      if (shift < 28) result |= (byte & 0x7f) << shift;
      else if (shift < 35) result += (byte & 0x7f) * 2 ** shift;
      else throw new WireError('varint too long');
      if (byte < 0x80) return result >>> 0 === result ? result : result >>> 0;
      shift += 7;
    }
  }

  /** Returns [start, end) of a length-delimited field's bytes. */
  bytes(): [number, number] {
    const length = this.varint();
    const start = this.pos;
    const end = start + length;
    if (end > this.end) throw new WireError('length-delimited field runs past the header');
    this.pos = end;
    return [start, end];
  }

  string(): string {
    const length = this.varint();
    const start = this.pos;
    const end = start + length;
    if (end > this.end) throw new WireError('length-delimited field runs past the header');
    this.pos = end;
    // Buffer#utf8Slice: what toString('utf8', …) ends in, without its argument checks (a header has several strings).
    return (this.buf as unknown as Utf8Sliceable).utf8Slice(start, end);
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.pos += 8;
        break;
      case 2:
        this.bytes();
        return;
      case 5:
        this.pos += 4;
        break;
      default:
        throw new WireError(`unsupported wire type ${wireType}`);
    }
    if (this.pos > this.end) throw new WireError('truncated field');
  }
}

export class WireError extends Error {
  override readonly name = 'WireError';
  /** Set when the header is well formed but breaks this limit (answered RESOURCE_EXHAUSTED, not INVALID_ARGUMENT). */
  constructor(message: string, readonly limit?: string) {
    super(message);
  }
}
