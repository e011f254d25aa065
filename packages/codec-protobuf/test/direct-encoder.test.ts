import t from 'tap';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import { loadProto } from '../src/index.js';
import { directEncoder } from '../src/direct-encoder.js';

// Differential: the in-place encoder against protobufjs's own `encode().finish()`, byte for byte,
// over many random messages of every field kind (seeded: a failure names its seed and repeats).
const DIRECT = path.join(__dirname, 'fixtures', 'direct.proto');
const proto = loadProto(DIRECT);
const root = proto.root;
const Everything = root.lookupType('direct.v1.Everything');
const Long = protobuf.util.Long as unknown as { fromBits(low: number, high: number, unsigned?: boolean): object };

/** mulberry32: small, seedable. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function generator(seed: number) {
  const r = random(seed);
  const int = (n: number) => Math.floor(r() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const u32 = () => pick([0, 1, 127, 128, 16383, 16384, 2 ** 21, 2 ** 28, 2 ** 32 - 1, int(2 ** 32)]);
  const i32 = () => pick([0, 1, -1, 127, -128, 2 ** 31 - 1, -(2 ** 31), int(2 ** 32) - 2 ** 31]);
  /** int64 as a decimal string (also past 2^53), a safe number, or a Long. */
  const i64 = (unsigned: boolean) => {
    const kind = int(4);
    if (kind === 0) return pick(unsigned ? ['0', '1', '9007199254740993', '18446744073709551615', '4294967296'] : ['0', '-1', '9007199254740993', '-9223372036854775808', '9223372036854775807', '-4294967296']);
    if (kind === 1) return unsigned ? int(2 ** 53) : int(2 ** 53) - 2 ** 52;
    if (kind === 2) return Long.fromBits(int(2 ** 32) | 0, int(2 ** 32) | 0, unsigned);
    return String(unsigned ? int(2 ** 40) : int(2 ** 40) - 2 ** 39);
  };
  const chars = ['a', 'z', '~', 'é', 'ß', '€', '中', '😀', '\ud83d', '\ude00', '\u0000', '\u07ff', '\u0800', '\uffff'];
  /** UTF-8 of every width, surrogate pairs and lone surrogates, short (< 40) and long. */
  const text = () => {
    const length = pick([0, 1, 5, 39, 40, 41, 100, 300]);
    let s = '';
    while (s.length < length) s += r() < 0.6 ? 'x' : pick(chars);
    return s;
  };
  const bytes = () => {
    const b = Buffer.alloc(pick([0, 1, 3, 64, 200]));
    for (let i = 0; i < b.length; i++) b[i] = int(256);
    return r() < 0.2 ? b.toString('base64') : b;
  };
  const mood = () => pick(['MOOD_UNSPECIFIED', 'HAPPY', 'SAD', 'NEGATIVE', 0, 1, 2, -1, 7]);
  const double = () => pick([0, -0, 1.5, -2.25, 1e300, Number.MIN_VALUE, Infinity, -Infinity, NaN, r()]);
  const float = () => pick([0, 0.25, -1.5, 3.4e38, NaN, r()]);
  const list = <T>(make: () => T): T[] => Array.from({ length: pick([0, 1, 2, 5, 20]) }, make);
  const maybe = (o: Record<string, unknown>, key: string, make: () => unknown) => {
    if (r() < 0.6) o[key] = make();
  };
  const leaf = (depth = 0): Record<string, unknown> => {
    const o: Record<string, unknown> = {};
    maybe(o, 'name', text);
    if (depth < 4) maybe(o, 'next', () => leaf(depth + 1));
    maybe(o, 'deltas', () => list(() => i64(false)));
    return o;
  };
  const scalars = () => {
    const o: Record<string, unknown> = {};
    maybe(o, 'fDouble', double);
    maybe(o, 'fFloat', float);
    maybe(o, 'fInt32', i32);
    maybe(o, 'fUint32', u32);
    maybe(o, 'fSint32', i32);
    maybe(o, 'fFixed32', u32);
    maybe(o, 'fSfixed32', i32);
    maybe(o, 'fInt64', () => i64(false));
    maybe(o, 'fUint64', () => i64(true));
    maybe(o, 'fSint64', () => i64(false));
    maybe(o, 'fFixed64', () => i64(true));
    maybe(o, 'fSfixed64', () => i64(false));
    maybe(o, 'fBool', () => r() < 0.5);
    maybe(o, 'fString', text);
    maybe(o, 'fBytes', bytes);
    maybe(o, 'fEnum', mood);
    return o;
  };
  const map = <T>(key: () => string | number | boolean, value: () => T): Record<string, T> => {
    const m: Record<string, T> = {};
    for (let i = pick([0, 1, 3]); i > 0; i--) m[String(key())] = value();
    return m;
  };
  const everything = () => {
    const o: Record<string, unknown> = {};
    maybe(o, 'scalars', scalars);
    maybe(o, 'rDouble', () => list(double));
    maybe(o, 'rFloat', () => list(float));
    maybe(o, 'rInt32', () => list(i32));
    maybe(o, 'rUint32', () => list(u32));
    maybe(o, 'rSint32', () => list(i32));
    maybe(o, 'rFixed32', () => list(u32));
    maybe(o, 'rSfixed32', () => list(i32));
    maybe(o, 'rInt64', () => list(() => i64(false)));
    maybe(o, 'rUint64', () => list(() => i64(true)));
    maybe(o, 'rSint64', () => list(() => i64(false)));
    maybe(o, 'rFixed64', () => list(() => i64(true)));
    maybe(o, 'rSfixed64', () => list(() => i64(false)));
    maybe(o, 'rBool', () => list(() => r() < 0.5));
    maybe(o, 'rEnum', () => list(mood));
    maybe(o, 'unpackedInt32', () => list(i32));
    maybe(o, 'unpackedSint64', () => list(() => i64(false)));
    maybe(o, 'unpackedEnum', () => list(mood));
    maybe(o, 'rString', () => list(text));
    maybe(o, 'rBytes', () => list(bytes));
    maybe(o, 'rLeaf', () => list(() => leaf()));
    maybe(o, 'mString', () => map(text, text));
    maybe(o, 'mInt32', () => map(i32, () => leaf()));
    maybe(o, 'mUint32', () => map(u32, mood));
    maybe(o, 'mSint32', () => map(i32, bytes));
    maybe(o, 'mFixed32', () => map(u32, double));
    maybe(o, 'mSfixed32', () => map(i32, () => i64(false)));
    maybe(o, 'mInt64', () => map(() => String(i64(false)), text));
    maybe(o, 'mUint64', () => map(() => pick(['0', '18446744073709551615', '12']), i32));
    maybe(o, 'mSint64', () => map(() => pick(['-9223372036854775808', '-1', '5']), () => r() < 0.5));
    maybe(o, 'mFixed64', () => map(() => pick(['0', '9007199254740993']), float));
    maybe(o, 'mSfixed64', () => map(() => pick(['-2', '7']), () => i64(true)));
    maybe(o, 'mBool', () => map(() => r() < 0.5, () => leaf()));
    // A oneof with one member set, and now and then (as fromObject allows) two.
    const members: [string, () => unknown][] = [['oText', text], ['oLong', () => i64(false)], ['oLeaf', () => leaf()]];
    for (const [key, make] of members) if (r() < 0.35) o[key] = make();
    maybe(o, 'maybe', i32);
    maybe(o, 'leaf', () => leaf());
    maybe(o, 'at', () => ({ seconds: String(int(2 ** 40)), nanos: int(1e9) }));
    maybe(o, 'extra', () => ({ '@type': 'type.googleapis.com/direct.v1.Leaf', name: text() }));
    maybe(o, 'highFieldNumber', u32);
    return o;
  };
  return { everything, leaf, scalars };
}

const encoder = directEncoder(Everything)!;

t.test('byte for byte what protobufjs encodes, over 3,000 random messages of every field kind', (t) => {
  let checked = 0;
  for (let seed = 1; seed <= 3000; seed++) {
    const object = generator(seed).everything();
    const message = Everything.fromObject(object);
    const expected = Everything.encode(message).finish();
    const length = encoder.length(message);
    if (length !== expected.length) {
      t.fail(`seed ${seed}: length ${length}, protobufjs ${expected.length}`);
      break;
    }
    // Written at an offset into a larger buffer, among bytes it must leave alone.
    const offset = seed % 7;
    const target = Buffer.alloc(offset + length + 3, 0xaa);
    const end = encoder.write(message, target, offset);
    const written = target.subarray(offset, offset + length);
    if (end !== offset + length || !written.equals(expected) || target[offset - 1 + (offset === 0 ? length + 1 : 0)] !== 0xaa || target[end] !== 0xaa) {
      let at = 0;
      while (at < length && written[at] === expected[at]) at++;
      const around = (b: Uint8Array) => Buffer.from(b.subarray(Math.max(0, at - 8), at + 8)).toString('hex');
      t.fail(`seed ${seed}: bytes differ from offset ${at}: ours …${around(written)}…, protobufjs …${around(expected)}…`);
      break;
    }
    checked++;
  }
  t.equal(checked, 3000, 'every message identical');
  t.end();
});

t.test('through the codec: encodedLength + encodeInto give what encode gives, from plain objects', (t) => {
  const codec = proto.message('direct.v1.Everything');
  t.type(codec.encodedLength, 'function', 'the codec has the fast path');
  let same = 0;
  for (let seed = 5001; seed <= 5500; seed++) {
    const object = generator(seed).everything();
    const expected = Buffer.from(codec.encode(object));
    const length = codec.encodedLength!(object);
    // A plain Uint8Array too (not a Buffer): long strings are written through a Buffer view of it.
    const target = seed % 2 === 0 ? Buffer.alloc(length) : new Uint8Array(length);
    const end = codec.encodeInto!(object, target, 0);
    if (end === length && Buffer.from(target).equals(expected)) same++;
    else {
      t.fail(`seed ${seed}: codec bytes differ`);
      break;
    }
  }
  t.equal(same, 500);
  t.end();
});

t.test('the codec refuses through encodedLength what encode refuses, with the same coded error', (t) => {
  const codec = proto.message('direct.v1.Everything');
  for (const bad of [{ scalars: { fInt64: 'abc' } }, { scalars: { fEnum: 'NOPE' } }, { rLeaf: 'x' }, [1, 2]]) {
    const viaEncode = (() => {
      try {
        codec.encode(bad);
      } catch (error) {
        return error as Error & { code?: string };
      }
      return undefined;
    })();
    t.ok(viaEncode, `encode refuses ${JSON.stringify(bad)}`);
    t.throws(() => codec.encodedLength!(bad), { code: viaEncode?.code, message: viaEncode?.message });
  }
  t.end();
});

t.test('encodeInto without a preceding encodedLength (or for another message) still writes the right bytes', (t) => {
  const codec = proto.message('direct.v1.Everything');
  const a = generator(42).everything();
  const b = generator(43).everything();
  const lengthA = codec.encodedLength!(a);
  const target = Buffer.alloc(codec.encode(b).length);
  codec.encodeInto!(b, target, 0);
  t.same(target, Buffer.from(codec.encode(b)), 'b measured on the fly');
  t.equal(lengthA, codec.encode(a).length);
  t.end();
});

t.test('nesting past protobufjs\'s recursion limit is refused as protobufjs refuses it', (t) => {
  const Leaf = root.lookupType('direct.v1.Leaf');
  // Built with create (fromObject refuses such depth itself).
  let message = Leaf.create({});
  for (let i = 0; i < 150; i++) message = Leaf.create({ next: message });
  t.throws(() => Leaf.encode(message), /max depth/);
  t.throws(() => directEncoder(Leaf)!.length(message), /max depth/);
  t.end();
});

t.test('types it does not cover (proto2 required fields, groups) get no fast path: encode() alone', (t) => {
  const parsed = protobuf.parse(`syntax = "proto2"; package p2;
    message Req { required int32 id = 1; optional string name = 2; }
    message HasReq { optional Req req = 1; }
    message Plain { optional int32 id = 1; repeated int32 ids = 2; }`).root;
  parsed.resolveAll();
  t.equal(directEncoder(parsed.lookupType('p2.Req')), undefined, 'a required field');
  t.equal(directEncoder(parsed.lookupType('p2.HasReq')), undefined, 'a nested type with a required field');
  const plain = parsed.lookupType('p2.Plain');
  const encoder = directEncoder(plain)!;
  const message = plain.fromObject({ id: 7, ids: [1, 2, 3] });
  const target = Buffer.alloc(encoder.length(message));
  encoder.write(message, target, 0);
  t.same(target, Buffer.from(plain.encode(message).finish()), 'proto2 optional and unpacked repeated (the proto2 default)');
  t.end();
});
