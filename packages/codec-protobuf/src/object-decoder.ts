import * as protobuf from 'protobufjs';
import { strictReader } from './strict-reader.js';

/**
 * A decoder that reads protobuf bytes straight into the plain object `toObject` would give — one
 * pass, no protobufjs message in between, no Reader object, no Long per int64 — generated as
 * straight-line JavaScript per message type (`new Function`, as protobufjs generates its own
 * decode and toObject).
 *
 * Same result, value for value and key for key, as protobufjs 7's generated `decode` followed by
 * its `toObject` with the package's conversion options (longs, enums, bytes, defaults, arrays,
 * objects, oneofs, json): fields are read by field number whatever the wire type says (as
 * protobufjs does), packed and unpacked repeated fields both accepted, a later singular value
 * replaces an earlier one (messages too: no merging, as protobufjs), map entries with missing keys
 * or values take the type's default, unknown fields (groups included) are skipped. The object's
 * keys come in the order toObject gives: its defaults first (taken from toObject itself, run once on
 * an empty message), then present fields by number, each oneof's virtual property after its member.
 * Truncated or malformed input throws (every read is bounds-checked against the enclosing message,
 * as strict-reader.ts does for protobufjs). test/object-decoder.test.ts compares both over random
 * messages of every field kind and several option sets.
 *
 * A nested type it does not generate code for (a proto2 `required` field, a group, a type with a
 * protobufjs wrapper such as google.protobuf.Any) is decoded by protobufjs (decode + toObject) where
 * it occurs; a top-level type of that kind has no object decoder (`decoderFor` returns undefined).
 *
 * Why generated code is safe here: the source text is built only from the .proto's reflection (field
 * numbers, types and names — names are emitted as JSON string literals, never as identifiers), never
 * from the bytes being decoded; the bytes are only ever data to the generated function.
 *
 * Why hand-written: on the stream bench's client, protobufjs decode + toObject was ≈ 35 % of the CPU
 * per message (README, "Why a generated decoder").
 */
export type ObjectDecoder = (bytes: Uint8Array) => unknown;

/** A generated decoder of one type: the object for bytes [start, end) of `buf`. */
type TypeDecoder = (buf: Buffer, start: number, end: number, depth: number) => unknown;

interface LongBitsLike { lo: number; hi: number; toNumber(unsigned?: boolean): number; toHash(): string }
interface LongLike { low: number; high: number; unsigned: boolean; toString(): string; toBigInt?(): bigint }
type LongCtor = (new (low: number, high: number, unsigned?: boolean) => LongLike) & { fromBits(low: number, high: number, unsigned?: boolean): LongLike };
const util = protobuf.util as unknown as {
  Long: LongCtor | undefined;
  LongBits: new (lo: number, hi: number) => LongBitsLike;
  float: { readFloatLE(buf: Uint8Array, pos: number): number; readDoubleLE(buf: Uint8Array, pos: number): number };
  base64: { encode(buffer: Uint8Array, start: number, end: number): string };
  makeProp(object: object, key: string): void;
  emptyArray: readonly unknown[];
};
const Reader = protobuf.Reader as unknown as { recursionLimit: number };
const types = (protobuf as unknown as { types: { packed: Record<string, number | undefined>; long: Record<string, number | undefined>; defaults: Record<string, unknown> } }).types;

function outOfRange(pos: number, end: number): RangeError {
  return new RangeError(`index out of range: ${pos} > ${end}`);
}

/**
 * The runtime the generated code calls for the rarer paths (multi-byte varints, 64-bit values,
 * skipping unknown fields): `pos` carries the position after a read, `lo`/`hi` a 64-bit value.
 * One object, shared: decoding is synchronous.
 */
class Runtime {
  pos = 0;
  lo = 0;
  hi = 0;

  /** protobufjs's Reader#uint32, bounds-checked: up to 5 bytes, then a 10-byte form's last 5 skipped. */
  u32(buf: Buffer, p: number, end: number): number {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (p >= end) throw outOfRange(p, end);
      const b = buf[p++]!;
      value = (value | ((b & (shift === 28 ? 15 : 127)) << shift)) >>> 0;
      if (b < 128) {
        this.pos = p;
        return value;
      }
    }
    if ((p += 5) > end) throw outOfRange(p, end);
    this.pos = p;
    return value;
  }

  /** A 64-bit varint into lo/hi (protobufjs's readLongVarint); returns the position after it. */
  v64(buf: Buffer, p: number, end: number): number {
    let lo = 0;
    let hi = 0;
    let i = 0;
    for (; i < 4; i++) {
      if (p >= end) throw outOfRange(p, end);
      const b = buf[p++]!;
      lo = (lo | ((b & 127) << (i * 7))) >>> 0;
      if (b < 128) return this.bits(lo, 0, p);
    }
    if (p >= end) throw outOfRange(p, end);
    let b = buf[p++]!;
    lo = (lo | ((b & 127) << 28)) >>> 0;
    hi = (hi | ((b & 127) >> 4)) >>> 0;
    if (b < 128) return this.bits(lo, hi, p);
    for (i = 0; i < 5; i++) {
      if (p >= end) throw outOfRange(p, end);
      b = buf[p++]!;
      hi = (hi | ((b & 127) << (i * 7 + 3))) >>> 0;
      if (b < 128) return this.bits(lo, hi, p);
    }
    throw new Error('invalid varint encoding');
  }

  /** 8 little-endian bytes into lo/hi. */
  f64(buf: Buffer, p: number, end: number): number {
    if (p + 8 > end) throw outOfRange(p + 8, end);
    this.lo = (buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24)) >>> 0;
    this.hi = (buf[p + 4]! | (buf[p + 5]! << 8) | (buf[p + 6]! << 16) | (buf[p + 7]! << 24)) >>> 0;
    return p + 8;
  }

  /** LongBits#zzDecode on lo/hi. */
  zz(): void {
    const mask = -(this.lo & 1);
    this.lo = (((this.lo >>> 1) | (this.hi << 31)) ^ mask) >>> 0;
    this.hi = ((this.hi >>> 1) ^ mask) >>> 0;
  }

  /** Reader#skipType, bounds-checked; returns the position after the skipped value. */
  skip(buf: Buffer, p: number, end: number, wireType: number, depth: number): number {
    if (depth > Reader.recursionLimit) throw new Error('maximum nesting depth exceeded');
    switch (wireType) {
      case 0:
        for (;;) {
          if (p >= end) throw outOfRange(p, end);
          if (buf[p++]! < 128) return p;
        }
      case 1:
        if ((p += 8) > end) throw outOfRange(p, end);
        return p;
      case 2: {
        const length = this.u32(buf, p, end);
        if ((p = this.pos + length) > end) throw outOfRange(p, end);
        return p;
      }
      case 3:
        for (;;) {
          const tag = this.u32(buf, p, end);
          p = this.pos;
          if ((tag & 7) === 4) return p;
          p = this.skip(buf, p, end, tag & 7, depth + 1);
        }
      case 5:
        if ((p += 4) > end) throw outOfRange(p, end);
        return p;
      default:
        throw new Error(`invalid wire type ${wireType} at offset ${p}`);
    }
  }

  /** The error of a read past the end of the enclosing message. */
  oob(pos: number, end: number): RangeError {
    return outOfRange(pos, end);
  }

  /** protobufjs's key for a map entry with a 64-bit key (util.longToHash of the Long it read). */
  hash(long: LongLike): string {
    return new util.LongBits(long.low >>> 0, long.high >>> 0).toHash();
  }

  private bits(lo: number, hi: number, p: number): number {
    this.lo = lo;
    this.hi = hi;
    return p;
  }
}

const TWO_POW_32 = 4294967296;

/** How toObject renders a 64-bit value from lo/hi, for each `longs` option (no Long on the String path's usual values). */
function longConverters(Long: LongCtor) {
  return {
    /** `longs: String`: Long#toString, through a double where that is exact (|n| < 2^53). */
    string(lo: number, hi: number, unsigned: boolean): string {
      if (unsigned) {
        if (hi <= 0x1fffff) return String(hi * TWO_POW_32 + lo);
      } else if ((hi | 0) >= -0x200000 && (hi | 0) <= 0x1fffff) {
        return String((hi | 0) * TWO_POW_32 + lo);
      }
      return new Long(lo | 0, hi | 0, unsigned).toString();
    },
    number: (lo: number, hi: number, unsigned: boolean): number => new util.LongBits(lo, hi).toNumber(unsigned),
    bigint: (lo: number, hi: number, unsigned: boolean): bigint => Long.fromBits(lo, hi, unsigned).toBigInt!(),
    long: (lo: number, hi: number, unsigned: boolean): LongLike => new Long(lo | 0, hi | 0, unsigned),
  };
}

/** A default value of toObject's result as source text that builds a fresh copy of it. */
function literal(value: unknown, scope: unknown[]): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string': return JSON.stringify(value);
    case 'boolean': return String(value);
    case 'number': return Object.is(value, -0) ? '-0' : String(value); // NaN, Infinity: globals
    case 'bigint': return `${value}n`;
    default: break;
  }
  if (Buffer.isBuffer(value)) return `Buffer.from(${JSON.stringify([...value])})`;
  if (Array.isArray(value)) return JSON.stringify(value);
  const object = value as Partial<LongLike>;
  if (typeof object.low === 'number' && typeof object.high === 'number') return `new Long(${object.low},${object.high},${String(object.unsigned === true)})`;
  if (Object.keys(value as object).length === 0 && Object.getPrototypeOf(value) === Object.prototype) return '{}';
  // Anything else (none in protobufjs 7): shared, as a constant from the scope.
  scope.push(value);
  return `S[${scope.length - 1}]`;
}

const LONG_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
const UNSIGNED = new Set(['uint64', 'fixed64']);

/**
 * Builds and caches the object decoders of one package (one set of conversion options). `toObject`
 * gives the defaults of each type (run once on an empty message); `fallback` decodes a type this
 * decoder does not generate code for.
 */
export class ObjectDecoders {
  private readonly decoders = new Map<protobuf.Type, TypeDecoder[]>();
  private readonly runtime = new Runtime();
  private readonly longs: ReturnType<typeof longConverters> | undefined;

  constructor(
    private readonly conversion: Readonly<protobuf.IConversionOptions>,
    private readonly toObject: (type: protobuf.Type, message: protobuf.Message) => unknown,
  ) {
    this.longs = util.Long === undefined ? undefined : longConverters(util.Long);
  }

  /** The decoder of `type`, or undefined when protobufjs must decode it (see the class comment). */
  decoderFor(type: protobuf.Type): ObjectDecoder | undefined {
    if (!this.generates(type)) return undefined;
    const decode = this.holder(type);
    return (bytes) => {
      const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      return decode[0]!(buf, 0, buf.length, 0);
    };
  }

  private generates(type: protobuf.Type): boolean {
    if (this.longs === undefined || protobuf.wrappers[type.fullName] !== undefined) return false;
    return type.fieldsArray.every((field) => {
      field.resolve();
      return !field.required && !field.delimited && field.name !== '__proto__' && (!field.partOf || field.partOf.name !== '__proto__');
    });
  }

  /** A one-element array holding the type's decoder (filled after generation: recursive types). */
  private holder(type: protobuf.Type): TypeDecoder[] {
    let holder = this.decoders.get(type);
    if (holder !== undefined) return holder;
    holder = [];
    this.decoders.set(type, holder);
    holder[0] = this.generates(type) ? this.generate(type) : this.foreign(type);
    return holder;
  }

  /** protobufjs's own decode + toObject for a nested type of a kind not generated here. */
  private foreign(type: protobuf.Type): TypeDecoder {
    const toObject = this.toObject;
    return (buf, start, end) => {
      return toObject(type, type.decode(strictReader(buf.subarray(start, end))));
    };
  }

  private generate(type: protobuf.Type): TypeDecoder {
    const o = this.conversion;
    const scope: unknown[] = [];
    const nested: TypeDecoder[][] = [];
    const enums: protobuf.Enum[] = [];
    const fields = [...type.fieldsArray].sort((a, b) => a.id - b.id);
    const template = this.toObject(type, new (type.ctor as unknown as new () => protobuf.Message)()) as Record<string, unknown>;
    const lines: string[] = [];
    const out = (line: string): void => void lines.push(line);

    const longMode = o.longs === String ? 'string' : o.longs === Number ? 'number' : typeof BigInt !== 'undefined' && o.longs === BigInt ? 'bigint' : 'long';

    /** Reads an unsigned varint into `v` (bounded by `end`). */
    const readU32 = (end: string) => `if(p<${end}&&(v=buf[p])<128)p++;else{v=R.u32(buf,p,${end});p=R.pos}`;
    /** Source that reads one value of `kind` into `v` (raw: as protobufjs's reader returns it). */
    const readRaw = (resolved: protobuf.ReflectionObject | null, kind: string, end: string, raw: boolean): string => {
      if (resolved instanceof protobuf.Type) {
        const i = nested.push(this.holder(resolved)) - 1;
        return `${readU32(end)};e=p+v;if(e>${end})throw R.oob(e,${end});v=N[${i}][0](buf,p,e,depth+1);p=e`;
      }
      switch (kind) {
        case 'int32': return `${readU32(end)};v=v|0`;
        case 'uint32': return `${readU32(end)};v=v>>>0`;
        case 'sint32': return `${readU32(end)};v=((v>>>1)^-(v&1))|0`;
        case 'bool': return `${readU32(end)};v=v!==0`;
        case 'fixed32':
        case 'sfixed32':
          return `if(p+4>${end})throw R.oob(p+4,${end});v=(buf[p]|buf[p+1]<<8|buf[p+2]<<16|buf[p+3]<<24)${kind === 'fixed32' ? '>>>0' : '|0'};p+=4`;
        case 'float': return `if(p+4>${end})throw R.oob(p+4,${end});v=F.readFloatLE(buf,p);p+=4`;
        case 'double': return `if(p+8>${end})throw R.oob(p+8,${end});v=F.readDoubleLE(buf,p);p+=8`;
        case 'string': return `${readU32(end)};e=p+v;if(e>${end})throw R.oob(e,${end});v=buf.utf8Slice(p,e);p=e`;
        case 'bytes': return `${readU32(end)};e=p+v;if(e>${end})throw R.oob(e,${end});v=p===e?Buffer.alloc(0):buf.slice(p,e);p=e`;
        default: {
          const unsigned = UNSIGNED.has(kind);
          const bits = kind === 'fixed64' || kind === 'sfixed64' ? `p=R.f64(buf,p,${end})` : `p=R.v64(buf,p,${end})`;
          const zz = kind === 'sint64' ? ';R.zz()' : '';
          // Raw (a map's value or key): the Long protobufjs's reader returns.
          if (raw) return `${bits}${zz};v=new Long(R.lo|0,R.hi|0,${String(unsigned)})`;
          return `${bits}${zz};v=L.${longMode}(R.lo,R.hi,${String(unsigned)})`;
        }
      }
    };
    /** toObject's conversion of a value `x` already converted by readRaw(…, raw = false). */
    const convert = (field: protobuf.Field, kind: string, x: string): string => {
      const resolved = field.resolvedType;
      if (resolved instanceof protobuf.Enum) {
        if (o.enums !== String) return x;
        const i = enums.push(resolved) - 1;
        return `(E[${i}].values[${x}]===undefined?${x}:E[${i}].values[${x}])`;
      }
      if (resolved instanceof protobuf.Type) return x;
      if ((kind === 'double' || kind === 'float') && o.json) return `(isFinite(${x})?${x}:String(${x}))`;
      if (kind === 'bytes') return o.bytes === String ? `B64.encode(${x},0,${x}.length)` : o.bytes === Array ? `Array.prototype.slice.call(${x})` : x;
      return x;
    };
    /** toObject's conversion of a raw value (a map value: may be protobufjs's default, e.g. 0 for an int64). */
    const convertRaw = (field: protobuf.Field, kind: string, x: string): string => {
      if (!LONG_TYPES.has(kind)) return convert(field, kind, x);
      const unsigned = String(UNSIGNED.has(kind));
      if (longMode === 'bigint') return `(typeof ${x}==="number"?BigInt(${x}):Long.fromBits(${x}.low>>>0,${x}.high>>>0,${unsigned}).toBigInt())`;
      if (longMode === 'string') return `(typeof ${x}==="number"?String(${x}):L.string(${x}.low>>>0,${x}.high>>>0,${unsigned}))`;
      if (longMode === 'number') return `(typeof ${x}==="number"?${x}:L.number(${x}.low>>>0,${x}.high>>>0,${unsigned}))`;
      return x;
    };

    out('if(depth>LIMIT)throw Error("maximum nesting depth exceeded")');
    out(`var v,e,t,k,c2${fields.map((_, i) => `,f${i}`).join('')}`);
    out('while(p<end){');
    out('if((t=buf[p])<128)p++;else{t=R.u32(buf,p,end);p=R.pos}');
    out('switch(t>>>3){');
    fields.forEach((field, i) => {
      const kind = field.resolvedType instanceof protobuf.Enum ? 'int32' : field.type;
      out(`case ${field.id}:{`);
      if (field.map) {
        const keyType = (field as unknown as protobuf.MapField).keyType;
        const keyDefault = types.defaults[keyType];
        const valueDefault = types.defaults[kind];
        const valueDefaultSource = field.resolvedType instanceof protobuf.Type ? 'null' : kind === 'bytes' ? 'EMPTY' : JSON.stringify(valueDefault);
        out(`if(f${i}===undefined)f${i}={}`);
        out(`${readU32('end')};c2=p+v;if(c2>end)throw R.oob(c2,end)`);
        out(`k=${keyDefault === undefined ? 'null' : JSON.stringify(keyDefault)};var w${i}=${valueDefaultSource}`);
        out('while(p<c2){');
        out(`${readU32('c2')};var g=v`);
        out(`switch(g>>>3){case 1:${readRaw(null, keyType, 'c2', true)};k=v;break`);
        out(`case 2:${readRaw(field.resolvedType, kind, 'c2', true)};w${i}=v;break`);
        out('default:p=R.skip(buf,p,c2,g&7,depth)}');
        out('}');
        out('if(p!==c2)throw R.oob(p,c2)');
        if (types.long[keyType] !== undefined) out('if(typeof k==="object")k=R.hash(k)');
        out(`if(k==="__proto__")util.makeProp(f${i},k)`);
        if (field.resolvedType instanceof protobuf.Type) {
          // protobufjs's toObject of a missing message value (null) throws, unless the type has no fields.
          const empty = field.resolvedType.fieldsArray.length === 0;
          out(`if(w${i}===null)${empty ? `w${i}={}` : 'throw new TypeError("Cannot read properties of null: a map entry without its message value")'}`);
        }
        out(`f${i}[k]=${convertRaw(field, kind, `w${i}`)}`);
      } else if (field.repeated) {
        // Array(), not []: an array literal's allocation site can be pretenured (see "Pretenuring" below).
        out(`if(f${i}===undefined)f${i}=Array()`);
        const read = readRaw(field.resolvedType, kind, 'end', false);
        if (types.packed[kind] !== undefined) {
          out(`if((t&7)===2){${readU32('end')};c2=p+v;if(c2>end)throw R.oob(c2,end)`);
          out(`while(p<c2){${readRaw(field.resolvedType, kind, 'c2', false)};f${i}.push(${convert(field, kind, 'v')})}`);
          out('if(p!==c2)throw R.oob(p,c2)}else{');
          out(`${read};f${i}.push(${convert(field, kind, 'v')})}`);
        } else {
          out(`${read};f${i}.push(${convert(field, kind, 'v')})`);
        }
      } else {
        out(`${readRaw(field.resolvedType, kind, 'end', false)};f${i}=${convert(field, kind, 'v')}`);
      }
      out('break}');
    });
    out('default:p=R.skip(buf,p,end,t&7,depth)');
    out('}}');
    out('if(p!==end)throw R.oob(p,end)');

    // The result, keys in toObject's order: its defaults, then present fields by number.
    const present = (field: protobuf.Field, i: number): string =>
      field.repeated ? `f${i}!==undefined&&f${i}.length!==0` : `f${i}!==undefined`;
    const inTemplate = (field: protobuf.Field) => !field.partOf && Object.prototype.hasOwnProperty.call(template, field.name);
    // Pretenuring: V8 gives every object or array literal an allocation site, and when one scavenge
    // finds ≥ 85 % of a site's recent objects alive (a server holds a whole batch of up to 256
    // decoded requests until their handlers answer) it may decide, for good, to allocate that site's
    // objects in the old generation. Every scavenge then copies and promotes what those old requests
    // point at: a Trellis server @256 promoted 2.5 MB per scavenge instead of 3.2 KB and spent 40–44 %
    // of its busy time in GC (docs/performance.md, "GC on Trellis servers, session 11";
    // packages/core/bench/pretenure-after-burst.js shows it without Trellis). So the result is built by
    // a constructor whose prototype is Object.prototype (a plain object, keys in the same order) and
    // empty lists by `Array()`: neither has a literal's allocation site. Measured: no cost to decode.
    const keys = Object.keys(template);
    const entries = keys.map((key) => {
      const i = fields.findIndex((field) => field.name === key && !field.partOf);
      const fallback = Array.isArray(template[key]) && (template[key] as unknown[]).length === 0 ? 'Array()' : literal(template[key], scope);
      return i < 0 ? fallback : `${present(fields[i]!, i)}?f${i}:${fallback}`;
    });
    const resultType = `var D=function(${keys.map((_, k) => `a${k}`).join(',')}){${keys.map((key, k) => `this[${JSON.stringify(key)}]=a${k}`).join(';')}};D.prototype=Object.prototype;`;
    out(`var d=new D(${entries.join(',')})`);
    fields.forEach((field, i) => {
      if (inTemplate(field)) return;
      const oneof = field.partOf !== null && field.partOf !== undefined && o.oneofs ? `;d[${JSON.stringify(field.partOf.name)}]=${JSON.stringify(field.name)}` : '';
      out(`if(${present(field, i)}){d[${JSON.stringify(field.name)}]=f${i}${oneof}}`);
    });
    out('return d');

    const name = type.name.replace(/\W/g, '_');
    const body = `${resultType}return function ${name}$decodeObject(buf,p,end,depth){\n${lines.join('\n')}\n}`;
    // Generated from the .proto's reflection only, never from input (see the file comment).
    const factory = new Function('R', 'N', 'E', 'S', 'L', 'F', 'B64', 'Long', 'Buffer', 'util', 'EMPTY', 'LIMIT', body) as (...args: unknown[]) => TypeDecoder;
    return factory(this.runtime, nested, enums, scope, this.longs, util.float, util.base64, util.Long, Buffer, util, util.emptyArray, Reader.recursionLimit);
  }
}
