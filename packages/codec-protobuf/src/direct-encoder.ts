import * as protobuf from 'protobufjs';

/**
 * A protobuf encoder that writes a message straight into a caller's buffer: a size pass
 * (`length`), then a write pass (`write`) at an offset — no protobufjs Writer, no list of write
 * operations and no Uint8Array per message. The kernel uses it to encode a stream's messages into
 * the connection's write batch (`MessageCodec.encodedLength` / `encodeInto`).
 *
 * It produces the bytes protobufjs's `Type.encode(message).finish()` produces under Node (its
 * BufferWriter), for the message protobufjs's `fromObject` returns — field for field: fields in
 * id order, a singular field written when set (own property, not null, defaults included), packed
 * and unpacked repeated fields, maps (entries in key order of `Object.keys`), nested messages,
 * int64 as Long, number or decimal string, bytes as Uint8Array / array / base64, strings measured
 * with `Buffer.byteLength` and written as protobufjs writes them (its own UTF-8 writer under 40
 * characters, `utf8Write` above: a lone surrogate comes out as each of those does).
 * test/direct-encoder.test.ts compares the two over random messages of every field kind.
 *
 * Types it does not cover (proto2 `required` fields and groups) get no direct encoder
 * (`directEncoder` returns undefined): the codec then encodes with protobufjs alone.
 *
 * `objectEncoder` is the same passes generated a second time with `fromObject` fused in: they read
 * the caller's plain object and convert each value on the way, so a message that needs no other
 * conversion is encoded without a protobufjs message in between (see its comment for what it takes;
 * test/object-encoder.test.ts compares it with `encode()`).
 *
 * Why hand-written: protobufjs's encode builds a linked list of write operations and a Uint8Array
 * per message, which the transport then copies into its batch; for the stream bench's echo message
 * that was ≈ 35 % of the server's CPU (README, "Why a hand-written encoder").
 */
export interface DirectEncoder {
  /**
   * The encoded size of `message` (a protobufjs message, as fromObject returns; for `objectEncoder`,
   * the plain object). Throws on values protobufjs would throw on. -1 from `objectEncoder` only: an
   * object it does not take as is.
   */
  length(message: object): number;
  /** Writes the message measured by the last `length()` call at `offset`; returns the end offset. Never throws for a measured message. */
  write(message: object, target: Uint8Array, offset: number): number;
}

interface LongBitsLike { lo: number; hi: number }
const util = protobuf.util as unknown as {
  LongBits: { from(value: unknown): LongBitsLike; fromNumber(value: number): LongBitsLike };
  utf8: { write(text: string, buffer: Uint8Array, offset: number): number };
  float: { writeFloatLE(value: number, buffer: Uint8Array, offset: number): void; writeDoubleLE(value: number, buffer: Uint8Array, offset: number): void };
  recursionLimit: number;
};
const { LongBits, utf8, float } = util;

/**
 * What the size pass measured, in the order the write pass needs it: the length of every string,
 * bytes field, nested message, packed run and map entry (pre-order), and the byte arrays that
 * base64 strings decode to. One per encoder, reused: encoding is synchronous.
 */
class Scratch {
  lengths: number[] = [];
  count = 0;
  read = 0;
  buffers: Uint8Array[] = [];
  bufferCount = 0;
  bufferRead = 0;
  /** Set by an object encoder's size pass: a value it does not take as is (the codec then uses fromObject). */
  odd = 0;
  /** The last string of 40+ characters the size pass found to be ASCII (see `latin1Write`). */
  asciiText: string | undefined;

  reset(): void {
    this.odd = 0;
    this.asciiText = undefined;
    this.count = 0;
    this.read = 0;
    if (this.bufferCount !== 0) this.buffers.length = 0; // the last message's decoded base64 goes
    this.bufferCount = 0;
    this.bufferRead = 0;
  }

  push(length: number): number {
    this.lengths[this.count++] = length;
    return length;
  }

  next(): number {
    return this.lengths[this.read++]!;
  }
}

type Value = unknown;
type SizeValue = (value: Value, scratch: Scratch, depth: number) => number;
type WriteValue = (value: Value, target: Uint8Array, pos: number, scratch: Scratch) => number;
interface ValueCodec { readonly wireType: number; readonly size: SizeValue; readonly write: WriteValue; readonly packable: boolean }

// ---- varints

function varint32Size(value: number): number {
  return value < 128 ? 1 : value < 16384 ? 2 : value < 2097152 ? 3 : value < 268435456 ? 4 : 5;
}

function writeVarint32(value: number, target: Uint8Array, pos: number): number {
  while (value > 127) {
    target[pos++] = (value & 127) | 128;
    value >>>= 7;
  }
  target[pos++] = value;
  return pos;
}

/** LongBits#length. */
function varint64Size(lo: number, hi: number): number {
  const part1 = ((lo >>> 28) | (hi << 4)) >>> 0;
  const part2 = hi >>> 24;
  if (part2 === 0) {
    if (part1 === 0) return lo < 16384 ? (lo < 128 ? 1 : 2) : lo < 2097152 ? 3 : 4;
    return part1 < 16384 ? (part1 < 128 ? 5 : 6) : part1 < 2097152 ? 7 : 8;
  }
  return part2 < 128 ? 9 : 10;
}

function writeVarint64(lo: number, hi: number, target: Uint8Array, pos: number): number {
  while (hi) {
    target[pos++] = (lo & 127) | 128;
    lo = ((lo >>> 7) | (hi << 25)) >>> 0;
    hi >>>= 7;
  }
  while (lo > 127) {
    target[pos++] = (lo & 127) | 128;
    lo >>>= 7;
  }
  target[pos++] = lo;
  return pos;
}

function writeFixed32(value: number, target: Uint8Array, pos: number): number {
  target[pos] = value & 255;
  target[pos + 1] = (value >>> 8) & 255;
  target[pos + 2] = (value >>> 16) & 255;
  target[pos + 3] = value >>> 24;
  return pos + 4;
}

type NodeBuffer = Uint8Array & { utf8Write?(text: string, offset: number): number; latin1Write?(text: string, offset: number): number };

/** Buffer#utf8Write on any Uint8Array (a plain one is viewed as a Buffer); returns the bytes written. */
function utf8Write(target: NodeBuffer, text: string, pos: number): number {
  if (target.utf8Write !== undefined) return target.utf8Write(text, pos);
  return (Buffer.from(target.buffer, target.byteOffset, target.byteLength) as NodeBuffer).utf8Write!(text, pos);
}

/**
 * Buffer#latin1Write, for a text known to be ASCII, where it writes the same bytes as UTF-8 — natively
 * a plain copy, ≈ 25 % cheaper than the UTF-8 encoder for a 100-character string. The size pass
 * knows: a text whose UTF-8 length equals its number of UTF-16 units is ASCII (any unit from 0x80
 * takes 2–4 bytes, a lone surrogate 3). The write pass takes this path only for a text equal to the
 * one measured (`===` compares contents), so a getter answering differently the second time is
 * still written as UTF-8 and caught by the length check.
 */
function latin1Write(target: NodeBuffer, text: string, pos: number): number {
  if (target.latin1Write !== undefined) return target.latin1Write(text, pos);
  return (Buffer.from(target.buffer, target.byteOffset, target.byteLength) as NodeBuffer).latin1Write!(text, pos);
}

/**
 * The write pass met a value of another size than the size pass measured: the object changed between
 * the two (a getter that answers differently each time — the object encoder reads the object twice).
 * Thrown rather than writing bytes that no longer match the measured length.
 */
function changedBetweenPasses(): never {
  throw new Error('a value changed between the size and the write pass (a getter with a different answer each time?)');
}

// ---- 64-bit values: LongBits.from without an object for the usual inputs (a Long, a safe number)

let bitsLo = 0;
let bitsHi = 0;

/** Sets bitsLo/bitsHi as LongBits.from(value) would. */
function toBits(value: Value): void {
  if (typeof value === 'object' && value !== null && typeof (value as { low?: unknown }).low === 'number') {
    const long = value as { low: number; high: number };
    bitsLo = long.low >>> 0;
    bitsHi = long.high >>> 0;
    return;
  }
  const bits = typeof value === 'number' ? LongBits.fromNumber(value) : LongBits.from(value);
  bitsLo = bits.lo;
  bitsHi = bits.hi;
}

/** LongBits#zzEncode on bitsLo/bitsHi. */
function zigZag64(): void {
  const mask = bitsHi >> 31;
  bitsHi = (((bitsHi << 1) | (bitsLo >>> 31)) ^ mask) >>> 0;
  bitsLo = ((bitsLo << 1) ^ mask) >>> 0;
}

// ---- one value of each scalar type, as protobufjs's Writer writes it

const SCALARS: Readonly<Record<string, ValueCodec>> = {
  double: { wireType: 1, packable: true, size: () => 8, write: (v, t, p) => (float.writeDoubleLE(v as number, t, p), p + 8) },
  float: { wireType: 5, packable: true, size: () => 4, write: (v, t, p) => (float.writeFloatLE(v as number, t, p), p + 4) },
  int32: {
    wireType: 0, packable: true,
    size: (v) => ((v as number) | 0) < 0 ? 10 : varint32Size((v as number) >>> 0),
    write: (v, t, p) => {
      const n = (v as number) | 0;
      if (n >= 0) return writeVarint32(n, t, p);
      const bits = LongBits.fromNumber(n); // sign-extended: always 10 bytes
      return writeVarint64(bits.lo, bits.hi, t, p);
    },
  },
  uint32: { wireType: 0, packable: true, size: (v) => varint32Size((v as number) >>> 0), write: (v, t, p) => writeVarint32((v as number) >>> 0, t, p) },
  sint32: {
    wireType: 0, packable: true,
    size: (v) => varint32Size((((v as number) << 1) ^ ((v as number) >> 31)) >>> 0),
    write: (v, t, p) => writeVarint32((((v as number) << 1) ^ ((v as number) >> 31)) >>> 0, t, p),
  },
  fixed32: { wireType: 5, packable: true, size: () => 4, write: (v, t, p) => writeFixed32((v as number) >>> 0, t, p) },
  sfixed32: { wireType: 5, packable: true, size: () => 4, write: (v, t, p) => writeFixed32((v as number) >>> 0, t, p) },
  int64: { wireType: 0, packable: true, size: (v) => (toBits(v), varint64Size(bitsLo, bitsHi)), write: (v, t, p) => (toBits(v), writeVarint64(bitsLo, bitsHi, t, p)) },
  uint64: { wireType: 0, packable: true, size: (v) => (toBits(v), varint64Size(bitsLo, bitsHi)), write: (v, t, p) => (toBits(v), writeVarint64(bitsLo, bitsHi, t, p)) },
  sint64: {
    wireType: 0, packable: true,
    size: (v) => (toBits(v), zigZag64(), varint64Size(bitsLo, bitsHi)),
    write: (v, t, p) => (toBits(v), zigZag64(), writeVarint64(bitsLo, bitsHi, t, p)),
  },
  fixed64: { wireType: 1, packable: true, size: () => 8, write: (v, t, p) => (toBits(v), writeFixed32(bitsHi, t, writeFixed32(bitsLo, t, p))) },
  sfixed64: { wireType: 1, packable: true, size: () => 8, write: (v, t, p) => (toBits(v), writeFixed32(bitsHi, t, writeFixed32(bitsLo, t, p))) },
  bool: { wireType: 0, packable: true, size: () => 1, write: (v, t, p) => ((t[p] = v ? 1 : 0), p + 1) },
  string: {
    wireType: 2, packable: false,
    size: (v, s) => {
      const text = v as string;
      const length = s.push(Buffer.byteLength(text));
      if (length === text.length && length >= 40) s.asciiText = text;
      return varint32Size(length) + length;
    },
    write: (v, t, p, s) => {
      const length = s.next();
      p = writeVarint32(length, t, p);
      if (length === 0) return p;
      const text = v as string;
      // As protobufjs's BufferWriter: its own writer below 40 characters, the native one above.
      const written = text.length < 40 ? utf8.write(text, t, p) : text === s.asciiText ? latin1Write(t, text, p) : utf8Write(t, text, p);
      if (written !== length) changedBetweenPasses();
      return p + length;
    },
  },
  bytes: {
    wireType: 2, packable: false,
    size: (v, s) => {
      let bytes = v as ArrayLike<number>;
      if (typeof v === 'string') bytes = s.buffers[s.bufferCount++] = Buffer.from(v, 'base64');
      const length = s.push(bytes.length >>> 0);
      return varint32Size(length) + length;
    },
    write: (v, t, p, s) => {
      const bytes = typeof v === 'string' ? s.buffers[s.bufferRead++]! : v as ArrayLike<number>;
      const length = s.next();
      p = writeVarint32(length, t, p);
      if (bytes.length >>> 0 !== length) changedBetweenPasses();
      if (length !== 0) t.set(bytes, p);
      return p + length;
    },
  },
};

// ---- values as a plain object holds them (the object encoder: fromObject fused into the passes)

/**
 * LongBits.fromNumber on a safe integer, into bitsLo/bitsHi without an object: the bits long.js's
 * `Long.fromNumber` gives it too (fromObject's conversion of a number, and of a decimal string of up to
 * 15 digits through fast-long.ts).
 */
function safeIntegerBits(value: number): void {
  const negative = value < 0;
  if (negative) value = -value;
  let lo = value >>> 0;
  let hi = ((value - lo) / 4294967296) >>> 0;
  if (negative) {
    hi = ~hi >>> 0;
    lo = ~lo >>> 0;
    if (++lo > 4294967295) {
      lo = 0;
      if (++hi > 4294967295) hi = 0;
    }
  }
  bitsLo = lo;
  bitsHi = hi;
}

/** `-?[0-9]{1,15}` (signed) or `[0-9]{1,15}`: fast-long.ts's fast path, where a double is exact. */
function isShortDecimal(text: string, signed: boolean): boolean {
  const length = text.length;
  let i = signed && length > 1 && text.charCodeAt(0) === 45 /* - */ ? 1 : 0;
  if (i === length || length - i > 15) return false;
  for (; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * Sets bitsLo/bitsHi from an int64 value as a plain object holds it and returns true, for the
 * values whose conversion is plain: a safe integer (not negative for unsigned types), a decimal
 * string of up to 15 digits, a Long-like `{ low, high }`. False for the rest (past 2^53, BigInt,
 * malformed): the codec then runs fromObject and its checks, which refuse or convert them.
 */
function plainLongBits(value: Value, unsigned: boolean): boolean {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || (unsigned && value < 0)) return false;
    safeIntegerBits(value);
    return true;
  }
  if (typeof value === 'string') {
    if (!isShortDecimal(value, !unsigned)) return false;
    safeIntegerBits(+value);
    return true;
  }
  if (typeof value === 'object' && value !== null) {
    const long = value as { low?: unknown; high?: unknown };
    if (typeof long.low !== 'number' || typeof long.high !== 'number') return false;
    bitsLo = long.low >>> 0;
    bitsHi = long.high >>> 0;
    return true;
  }
  return false;
}

/** A plain value codec's size pass, taking only values of `accepts` (anything else: `odd`). */
function plainWhen(codec: ValueCodec, accepts: (value: Value) => boolean): ValueCodec {
  const size = codec.size;
  return {
    wireType: codec.wireType,
    packable: codec.packable,
    size: (v, s, depth) => (accepts(v) ? size(v, s, depth) : ((s.odd = 1), 0)),
    write: codec.write,
  };
}

const isNumber = (v: Value): boolean => typeof v === 'number';

function plainLong(unsigned: boolean, zigZag: boolean, fixed: boolean): ValueCodec {
  if (fixed) {
    return {
      wireType: 1, packable: true,
      size: (v, s) => (plainLongBits(v, unsigned) ? 8 : ((s.odd = 1), 0)),
      write: (v, t, p) => (plainLongBits(v, unsigned), writeFixed32(bitsHi, t, writeFixed32(bitsLo, t, p))),
    };
  }
  return {
    wireType: 0, packable: true,
    size: (v, s) => {
      if (!plainLongBits(v, unsigned)) return (s.odd = 1), 0;
      if (zigZag) zigZag64();
      return varint64Size(bitsLo, bitsHi);
    },
    write: (v, t, p) => {
      plainLongBits(v, unsigned);
      if (zigZag) zigZag64();
      return writeVarint64(bitsLo, bitsHi, t, p);
    },
  };
}

/**
 * Each scalar type's codec for a value as a plain object holds it: the values fromObject keeps as
 * they are (a number for a number field, a string for a string, a Uint8Array for bytes, anything for
 * a bool: `Boolean(v)` and the writer's `v ? 1 : 0` agree), and int64 values it converts through
 * plainLongBits. Each is a subset of what strict-values.ts accepts, so skipping its check changes
 * nothing. Everything else sets `odd`.
 */
const PLAIN_SCALARS: Readonly<Record<string, ValueCodec>> = {
  double: plainWhen(SCALARS.double!, isNumber),
  float: plainWhen(SCALARS.float!, isNumber),
  int32: plainWhen(SCALARS.int32!, isNumber),
  uint32: plainWhen(SCALARS.uint32!, isNumber),
  sint32: plainWhen(SCALARS.sint32!, isNumber),
  fixed32: plainWhen(SCALARS.fixed32!, isNumber),
  sfixed32: plainWhen(SCALARS.sfixed32!, isNumber),
  int64: plainLong(false, false, false),
  uint64: plainLong(true, false, false),
  sint64: plainLong(false, true, false),
  fixed64: plainLong(true, false, true),
  sfixed64: plainLong(false, false, true),
  bool: SCALARS.bool!,
  string: plainWhen(SCALARS.string!, (v) => typeof v === 'string'),
  bytes: plainWhen(SCALARS.bytes!, (v) => v instanceof Uint8Array),
};

/**
 * An enum field's value as a plain object holds it: a name of the enum (its number is written) or an
 * int32 number (written as is, as fromObject keeps unknown numbers: proto3 enums are open).
 */
function plainEnum(type: protobuf.Enum): ValueCodec {
  const numbers = new Map<string, number>(Object.entries(type.values));
  const int32 = SCALARS.int32!;
  const number = (v: Value): number => (typeof v === 'string' ? numbers.get(v)! : v as number);
  return {
    wireType: 0, packable: true,
    size: (v, s, depth) => {
      if (typeof v === 'number' ? (v | 0) !== v : typeof v !== 'string' || !numbers.has(v)) return (s.odd = 1), 0;
      return int32.size(number(v), s, depth);
    },
    write: (v, t, p, s) => int32.write(number(v), t, p, s),
  };
}

/** A plain object (prototype Object.prototype or null): what fromObject copies field by field. */
export function isPlainObject(value: Value): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

// ---- messages

interface FieldPlan {
  size(message: Record<string, Value>, scratch: Scratch, depth: number): number;
  write(message: Record<string, Value>, target: Uint8Array, pos: number, scratch: Scratch): number;
}

interface MessagePlan {
  size(message: Value, scratch: Scratch, depth: number): number;
  write(message: Value, target: Uint8Array, pos: number, scratch: Scratch): number;
}

/**
 * Which values the passes take. `message`: a protobufjs message as fromObject returns it (a field is
 * present when it is an own property and not null). `object`: the plain object the caller handed to
 * the codec, read as fromObject reads it (a singular field is present when not null, a repeated or
 * map field when truthy), converted on the fly; a value it does not take as is sets `scratch.odd`.
 */
interface Mode {
  readonly objects: boolean;
  readonly plans: Map<protobuf.Type, MessagePlan>;
}

const hasOwn = Object.prototype.hasOwnProperty;

function tagBytes(id: number, wireType: number): Uint8Array {
  const tag = ((id << 3) | wireType) >>> 0;
  const bytes = new Uint8Array(varint32Size(tag));
  writeVarint32(tag, bytes, 0);
  return bytes;
}

function writeTag(tag: Uint8Array, target: Uint8Array, pos: number): number {
  const length = tag.length;
  target[pos] = tag[0]!;
  if (length === 1) return pos + 1;
  for (let i = 1; i < length; i++) target[pos + i] = tag[i]!;
  return pos + length;
}

/** A nested message as a value: its length is measured in the size pass and read back in the write pass. */
function messageValue(plan: MessagePlan, objects: boolean): ValueCodec {
  return {
    wireType: 2,
    packable: false,
    size: (v, s, depth) => {
      // fromObject copies a plain object; a message instance, an array or a non-object is its to handle.
      if (objects && !isPlainObject(v)) return (s.odd = 1), 0;
      const slot = s.count++;
      const length = plan.size(v, s, depth + 1);
      s.lengths[slot] = length;
      return varint32Size(length) + length;
    },
    write: (v, t, p, s) => plan.write(v, t, writeVarint32(s.next(), t, p), s),
  };
}

/** A message type with a protobufjs wrapper (google.protobuf.Any): its fromObject is the wrapper's own. */
const WRAPPED: ValueCodec = { wireType: 2, packable: false, size: (_v, s) => ((s.odd = 1), 0), write: (_v, _t, p) => p };

function valueCodec(field: protobuf.Field, type: string, mode: Mode): ValueCodec | undefined {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) {
    const plan = planFor(resolved, mode);
    if (plan === undefined) return undefined;
    if (mode.objects && protobuf.wrappers[resolved.fullName] !== undefined) return WRAPPED;
    return messageValue(plan, mode.objects);
  }
  if (resolved instanceof protobuf.Enum) return mode.objects ? plainEnum(resolved) : SCALARS.int32;
  return (mode.objects ? PLAIN_SCALARS : SCALARS)[type];
}

/**
 * One field as the generated code of its message writes it: `kind` says which shape of code, the
 * rest is what that code calls. Maps keep a closure pair (`plan`): they are rare on hot paths.
 */
type FieldShape =
  | { kind: 'singular' | 'repeated' | 'packed'; name: string; tag: Uint8Array; codec: ValueCodec }
  | { kind: 'map'; name: string; plan: FieldPlan };

/**
 * Map keys are the strings Object.keys gives; each key type's writer coerces them as protobufjs's
 * does (fromObject copies the keys as they are, so both modes write them alike). In `objects` mode
 * the map is what fromObject reads: present when truthy, an object, no `__proto__` key (fromObject's
 * copy would lose it).
 */
function mapField(name: string, tag: Uint8Array, key: ValueCodec, keyTag: Uint8Array, value: ValueCodec, valueTag: Uint8Array, objects: boolean): FieldPlan {
  return {
    size: (m, s, depth) => {
      const map = m[name] as Record<string, Value> | null | undefined;
      if (objects) {
        if (!map) return 0;
        if (typeof map !== 'object') return (s.odd = 1), 0;
      } else if (map == null || !hasOwn.call(m, name)) return 0;
      const keys = Object.keys(map);
      let total = 0;
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        if (objects && k === '__proto__') return (s.odd = 1), 0;
        const slot = s.count++;
        const length = keyTag.length + key.size(k, s, depth) + valueTag.length + value.size(map[k], s, depth);
        s.lengths[slot] = length;
        total += tag.length + varint32Size(length) + length;
      }
      return total;
    },
    write: (m, t, p, s) => {
      const map = m[name] as Record<string, Value> | null | undefined;
      if (objects ? !map : map == null || !hasOwn.call(m, name)) return p;
      const keys = Object.keys(map!);
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        p = writeVarint32(s.next(), t, writeTag(tag, t, p));
        p = key.write(k, t, writeTag(keyTag, t, p), s);
        p = value.write(map![k], t, writeTag(valueTag, t, p), s);
      }
      return p;
    },
  };
}

function fieldShape(field: protobuf.Field, mode: Mode): FieldShape | undefined {
  if (field.required || field.delimited) return undefined;
  const name = field.name;
  // `m.__proto__` reads the prototype, not a field: such a type keeps the fromObject path.
  if (mode.objects && name === '__proto__') return undefined;
  if (field.map) {
    const key = SCALARS[(field as unknown as protobuf.MapField).keyType];
    const value = valueCodec(field, field.type, mode);
    if (key === undefined || value === undefined) return undefined;
    return { kind: 'map', name, plan: mapField(name, tagBytes(field.id, 2), key, tagBytes(1, key.wireType), value, tagBytes(2, value.wireType), mode.objects) };
  }
  const codec = valueCodec(field, field.type, mode);
  if (codec === undefined) return undefined;
  if (!field.repeated) return { kind: 'singular', name, tag: tagBytes(field.id, codec.wireType), codec };
  if (field.packed && codec.packable) return { kind: 'packed', name, tag: tagBytes(field.id, 2), codec };
  return { kind: 'repeated', name, tag: tagBytes(field.id, codec.wireType), codec };
}

/**
 * The size and write passes of one message type as straight-line code (`new Function`, as protobufjs
 * generates its own encoders): each field's presence check, tag and loop inline, and each field's
 * value codec called from a call site of its own — one the JIT can inline, where a loop over field
 * closures made every value call megamorphic. The source is built only from the .proto's
 * reflection (field names appear as JSON string literals, tags as numbers), never from a message.
 * In `objects` mode presence is fromObject's (see Mode) and what it would refuse or convert sets
 * `s.odd` (a repeated field that is not an array, nesting past the recursion limit).
 */
function generatePasses(typeName: string, shapes: readonly FieldShape[], objects: boolean): Pick<MessagePlan, 'size' | 'write'> {
  const size: string[] = [objects ? 'if(depth>LIMIT){s.odd=1;return 0}' : 'if(depth>LIMIT)throw Error("max depth exceeded")', 'var n=0,v,i,l,slot'];
  const write: string[] = ['var v,i'];
  const tagSource = (tag: Uint8Array) => [...tag].map((byte) => `t[p++]=${byte}`).join(';');
  shapes.forEach((shape, f) => {
    const c = `C${f}`;
    if (shape.kind === 'map') {
      size.push(`n+=${c}.size(m,s,depth)`);
      write.push(`p=${c}.write(m,t,p,s)`);
      return;
    }
    const name = JSON.stringify(shape.name);
    const tag = tagSource(shape.tag);
    size.push(`v=m[${name}]`);
    write.push(`v=m[${name}]`);
    if (shape.kind === 'singular') {
      const present = objects ? 'v!=null' : `v!=null&&hasOwn.call(m,${name})`;
      size.push(`if(${present})n+=${shape.tag.length}+${c}.size(v,s,depth)`);
      write.push(`if(${present}){${tag};p=${c}.write(v,t,p,s)}`);
      return;
    }
    // A repeated field: fromObject takes a truthy value, and refuses one that is not an array.
    const sizePresent = objects ? 'if(v&&!isArray(v))s.odd=1;else if(v&&v.length)' : 'if(v!=null&&v.length)';
    const writePresent = objects ? 'if(v&&v.length)' : 'if(v!=null&&v.length)';
    if (shape.kind === 'repeated') {
      size.push(`${sizePresent}for(i=0;i<v.length;i++)n+=${shape.tag.length}+${c}.size(v[i],s,depth)`);
      write.push(`${writePresent}for(i=0;i<v.length;i++){${tag};p=${c}.write(v[i],t,p,s)}`);
    } else {
      size.push(`${sizePresent}{slot=s.count++;l=0;for(i=0;i<v.length;i++)l+=${c}.size(v[i],s,depth);s.lengths[slot]=l;n+=${shape.tag.length}+vsize(l)+l}`);
      write.push(`${writePresent}{${tag};p=wv32(s.lengths[s.read++],t,p);for(i=0;i<v.length;i++)p=${c}.write(v[i],t,p,s)}`);
    }
  });
  size.push('return n');
  write.push('return p');
  const codecs = shapes.map((shape) => (shape.kind === 'map' ? shape.plan : shape.codec));
  const unpack = codecs.map((_, f) => `var C${f}=C[${f}];`).join('');
  const id = typeName.replace(/\W/g, '_') + (objects ? '$object' : '');
  const source = `${unpack}\nreturn {size:function ${id}$size(m,s,depth){\n${size.join('\n')}\n},write:function ${id}$write(m,t,p,s){\n${write.join('\n')}\n}}`;
  const factory = new Function('C', 'hasOwn', 'vsize', 'wv32', 'LIMIT', 'isArray', source) as (...args: unknown[]) => Pick<MessagePlan, 'size' | 'write'>;
  return factory(codecs, hasOwn, varint32Size, writeVarint32, util.recursionLimit, Array.isArray);
}

/** Built once per type and mode (recursive types share their plan); undefined where a field is not covered. */
function planFor(type: protobuf.Type, mode: Mode): MessagePlan | undefined {
  const plans = mode.plans;
  if (plans.has(type)) return plans.get(type);
  // Registered before the fields are planned, so recursive types terminate; the passes are
  // generated once every field is planned (a nested message's codec reads them from the plan).
  const plan: MessagePlan = { size: () => 0, write: (_m, _t, p) => p };
  plans.set(type, plan);
  const shapes: FieldShape[] = [];
  for (const field of [...type.fieldsArray].sort((a, b) => a.id - b.id)) {
    const shape = fieldShape(field.resolve(), mode);
    if (shape === undefined) {
      plans.set(type, undefined as unknown as MessagePlan);
      return undefined;
    }
    shapes.push(shape);
  }
  const passes = generatePasses(type.name, shapes, mode.objects);
  plan.size = passes.size;
  plan.write = passes.write;
  return plan;
}

/** A plan that reaches a type without one (through a nested field) has none either. */
function complete(plan: MessagePlan | undefined, type: protobuf.Type, plans: Map<protobuf.Type, MessagePlan>, seen = new Set<protobuf.Type>()): boolean {
  if (plan === undefined) return false;
  if (seen.has(type)) return true;
  seen.add(type);
  for (const field of type.fieldsArray) {
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Type && !complete(plans.get(resolved), resolved, plans, seen)) return false;
  }
  return true;
}

const messageMode: Mode = { objects: false, plans: new Map() };
const objectMode: Mode = { objects: true, plans: new Map() };

function encoderFor(type: protobuf.Type, mode: Mode): DirectEncoder | undefined {
  const plan = planFor(type, mode);
  if (!complete(plan, type, mode.plans)) return undefined;
  const scratch = new Scratch();
  let measured: object | undefined;
  return {
    length(message) {
      scratch.reset();
      measured = undefined;
      const length = plan!.size(message, scratch, 0);
      if (scratch.odd !== 0) return -1;
      measured = message;
      return length;
    },
    write(message, target, offset) {
      if (message !== measured && this.length(message) < 0) throw new TypeError('the object needs fromObject: measure it with length() first');
      scratch.read = 0;
      scratch.bufferRead = 0;
      return plan!.write(message, target, offset, scratch);
    },
  };
}

/** The direct encoder of `type`, or undefined when it has a field kind this encoder does not cover. */
export function directEncoder(type: protobuf.Type): DirectEncoder | undefined {
  return encoderFor(type, messageMode);
}

/**
 * The direct encoder of `type` with protobufjs's `fromObject` fused into it: it takes the plain
 * object a caller hands to the codec (`{ id: '5', mood: 'HAPPY', … }`) and writes the bytes
 * `Type.encode(Type.fromObject(object)).finish()` writes, with no message object in between.
 * `length()` returns -1 for an object holding a value fromObject would convert in a way it does not
 * (an int64 past 2^53, a BigInt, bytes as base64, a number for a string field, a message instance
 * or an array where a message goes, a `google.protobuf.Any`, nesting past the recursion limit):
 * the codec then takes the fromObject path, which converts or refuses it. Undefined for the types
 * `directEncoder` does not cover. The top-level object must be a plain object (the caller checks).
 */
export function objectEncoder(type: protobuf.Type): DirectEncoder | undefined {
  if (protobuf.wrappers[type.fullName] !== undefined) return undefined;
  return encoderFor(type, objectMode);
}

