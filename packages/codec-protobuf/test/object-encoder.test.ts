import t, { type Test } from 'tap';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import { loadProto } from '../src/index.js';
import { objectEncoder } from '../src/direct-encoder.js';
import { generator } from './fixtures/random-messages.js';

// The object encoder (fromObject fused into the direct encoder) against the codec's reference path,
// `encode()` = strict checks + protobufjs fromObject + protobufjs encode: byte for byte where it takes
// an object, and -1 (the codec then runs fromObject) for every object the reference refuses.
const DIRECT = path.join(__dirname, 'fixtures', 'direct.proto');
const proto = loadProto(DIRECT);
const root = proto.root;
const Everything = root.lookupType('direct.v1.Everything');
const Scalars = root.lookupType('direct.v1.Scalars');
const Leaf = root.lookupType('direct.v1.Leaf');
const everything = proto.message('direct.v1.Everything');
const scalars = proto.message('direct.v1.Scalars');

/** The reference bytes, or the error the reference path throws. */
function reference(codec: { encode(m: unknown): Uint8Array }, object: unknown): Buffer | Error {
  try {
    return Buffer.from(codec.encode(object));
  } catch (error) {
    return error as Error;
  }
}

/** The object encoder's bytes written at `offset` among guard bytes, or -1 when it passes the object on. */
function fused(type: protobuf.Type, object: object, offset = 0): Buffer | -1 {
  const encoder = objectEncoder(type)!;
  const length = encoder.length(object);
  if (length < 0) return -1;
  const target = Buffer.alloc(offset + length + 2, 0xaa);
  const end = encoder.write(object, target, offset);
  if (end !== offset + length) throw new Error(`wrote to ${end}, measured ${offset + length}`);
  if (target[end] !== 0xaa || (offset > 0 && target[offset - 1] !== 0xaa)) throw new Error('wrote outside its bytes');
  return target.subarray(offset, end);
}

function differential(t: Test, type: protobuf.Type, codec: { encode(m: unknown): Uint8Array }, make: (seed: number) => Record<string, unknown>, seeds: number, minTaken: number): void {
  let taken = 0;
  let passed = 0;
  for (let seed = 1; seed <= seeds; seed++) {
    const object = make(seed);
    const expected = reference(codec, object);
    const ours = fused(type, object, seed % 5);
    if (ours === -1) {
      passed++;
      continue;
    }
    if (expected instanceof Error) return void t.fail(`seed ${seed}: taken by the object encoder, refused by encode(): ${expected.message}`);
    if (!ours.equals(expected)) {
      let at = 0;
      while (at < ours.length && ours[at] === expected[at]) at++;
      const around = (b: Buffer) => b.subarray(Math.max(0, at - 8), at + 8).toString('hex');
      return void t.fail(`seed ${seed}: bytes differ from offset ${at}: ours …${around(ours)}…, encode() …${around(expected)}…`);
    }
    taken++;
  }
  t.equal(taken + passed, seeds, `${taken} encoded byte for byte, ${passed} passed on to fromObject`);
  t.ok(taken >= minTaken, `the object encoder took ${taken} of ${seeds} (at least ${minTaken})`);
}

const LONG_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
const Long = protobuf.util.Long as unknown as { fromString(text: string, unsigned?: boolean): object };

/**
 * The same object with the values the object encoder passes on given in a form it takes: an int64
 * string past 15 digits as a Long, base64 bytes as a Buffer, no Any. So the random objects exercise
 * its every field kind (maps, packed and unpacked repeated fields, nesting), not only its refusals.
 */
function takeable(type: protobuf.Type, object: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const one = (field: protobuf.Field, value: unknown): unknown => {
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Type) return takeable(resolved, value as Record<string, unknown>);
    if (LONG_TYPES.has(field.type) && typeof value === 'string' && value.replace('-', '').length > 15) return Long.fromString(value, field.type === 'uint64' || field.type === 'fixed64');
    if (field.type === 'bytes' && typeof value === 'string') return Buffer.from(value, 'base64');
    return value;
  };
  for (const [key, value] of Object.entries(object)) {
    const field = type.fields[key];
    if (field === undefined || key === 'extra') continue;
    if (field.map) out[key] = Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, one(field, v)]));
    else if (field.repeated) out[key] = (value as unknown[]).map((v) => one(field, v));
    else out[key] = one(field, value);
  }
  return out;
}

t.test('random Scalars, Leaf and Everything objects: the bytes of encode(), or passed on', (t) => {
  differential(t, Scalars, scalars, (seed) => generator(seed).scalars(), 2000, 300);
  differential(t, Leaf, proto.message('direct.v1.Leaf'), (seed) => generator(seed).leaf(), 2000, 300);
  // Without the Any field (its wrapper's fromObject is always passed on), most objects are taken.
  differential(t, Everything, everything, (seed) => {
    const object = generator(seed).everything();
    if (seed % 2 === 0) delete object.extra;
    return object;
  }, 2000, 20);
  differential(t, Everything, everything, (seed) => takeable(Everything, generator(seed).everything()), 1000, 900);
  t.end();
});

t.test('int64 as decimal strings, safe numbers and Long-likes; past 2^53 is passed on', (t) => {
  for (const [field, value] of [
    ['fInt64', '5'], ['fInt64', '-5'], ['fInt64', 5], ['fInt64', -5], ['fInt64', '000123'], ['fInt64', '-0'], ['fInt64', -0],
    ['fInt64', '999999999999999'], ['fInt64', -(2 ** 53 - 1)], ['fInt64', { low: -1, high: 0x7fffffff }],
    ['fUint64', '18'], ['fUint64', 2 ** 53 - 1], ['fSint64', '-3'], ['fSint64', -(2 ** 40)], ['fFixed64', '7'],
    ['fSfixed64', -9], ['fSfixed64', '-123456789012345'],
  ] as const) {
    const object = { [field]: value };
    t.same(fused(Scalars, object), reference(scalars, object), `${field} ${JSON.stringify(value)}`);
  }
  for (const [field, value] of [
    ['fInt64', '9007199254740993'], ['fInt64', '1234567890123456'], ['fInt64', 2 ** 53], ['fInt64', 1.5], ['fInt64', 'abc'],
    ['fInt64', 5n], ['fInt64', ''], ['fInt64', '-'], ['fUint64', '-5'], ['fUint64', -5], ['fInt64', { low: '1', high: 0 }],
  ] as const) {
    const object = { [field]: value };
    t.equal(fused(Scalars, object), -1, `${field} ${String(value)} is passed on`);
    const expected = reference(scalars, object);
    // Whatever the reference does with it (converts or refuses), the codec's in-place path does too.
    if (expected instanceof Error) t.throws(() => scalars.encodedLength!(object), { message: expected.message });
    else t.equal(scalars.encodedLength!(object), expected.length);
  }
  t.end();
});

t.test('enums by name and by number, unknown numbers kept; unknown names and non-integers passed on', (t) => {
  for (const value of ['HAPPY', 'NEGATIVE', 'MOOD_UNSPECIFIED', 1, -1, 0, 7, -0]) {
    const object = { fEnum: value };
    t.same(fused(Scalars, object), reference(scalars, object), `fEnum ${String(value)}`);
    const list = { rEnum: [value, 'SAD', value], unpackedEnum: [value, 2], mUint32: { 3: value } };
    t.same(fused(Everything, list), reference(everything, list), `repeated and map values ${String(value)}`);
  }
  for (const value of ['NOPE', '1', 1.5, 2 ** 31, true]) {
    t.equal(fused(Scalars, { fEnum: value }), -1, `fEnum ${String(value)} is passed on`);
    t.equal(fused(Everything, { rEnum: [1, value] }), -1, `rEnum [1, ${String(value)}] is passed on`);
  }
  t.throws(() => scalars.encodedLength!({ fEnum: 'NOPE' }), { name: 'ProtoCodecError', message: /not a value of enum Mood/ }, 'an unknown name is still refused');
  t.end();
});

t.test('defaults and presence: set defaults are written, null and undefined are not, as fromObject does', (t) => {
  const cases: Record<string, unknown>[] = [
    {},
    { fInt32: 0, fString: '', fBool: false, fDouble: 0, fInt64: '0', fBytes: new Uint8Array(0), fEnum: 0 },
    { fInt32: null, fString: undefined, fBool: null, fInt64: null },
    { fBool: 'yes', fDouble: -0, fFloat: NaN, fUint32: -1, fSint32: 2 ** 31, fFixed32: 1.9 },
  ];
  for (const object of cases) t.same(fused(Scalars, object), reference(scalars, object), JSON.stringify(object));
  // Repeated and map fields: fromObject takes a truthy value, so 0 and '' mean "not set".
  for (const object of [{ rInt32: [] }, { rInt32: 0 }, { rString: '' }, { mString: null }, { rInt32: [0, -1, 1.5] }, { mString: {} }]) {
    t.same(fused(Everything, object), reference(everything, object), JSON.stringify(object));
  }
  t.end();
});

t.test('nested messages, repeated and map fields of every kind', (t) => {
  const object = {
    scalars: { fString: 'héllo €😀', fInt64: '-42', fEnum: 'SAD', fBytes: Buffer.from([1, 2, 3]) },
    rString: ['a', '', 'x'.repeat(300)],
    rInt64: ['1', 2, '-3'],
    rSint64: [-1, '5'],
    rFixed64: ['9', 10],
    rBool: [true, false, 0, 'x'],
    rBytes: [new Uint8Array([9]), Buffer.alloc(0)],
    rLeaf: [{ name: 'a', next: { name: 'b', deltas: ['-7', 8] } }, {}],
    mString: { b: 'B', a: 'A', 10: 'ten', 2: 'two' },
    mInt32: { '-5': { name: 'minus five' }, 7: {} },
    mInt64: { '-9007199254740993': 'big key', 3: 'three' },
    mBool: { true: { name: 't' }, false: {} },
    mSfixed32: { 1: '-1', 2: 2 },
    oText: 'one', oLong: '77', oLeaf: { name: 'both set, as fromObject allows' },
    maybe: 0,
    leaf: Object.assign(Object.create(null) as object, { name: 'a null-prototype object' }),
    at: { seconds: '1700000000', nanos: 5 },
    highFieldNumber: 1,
  };
  const ours = fused(Everything, object);
  t.not(ours, -1, 'taken by the object encoder');
  t.same(ours, reference(everything, object), 'the bytes of encode()');
  t.same(everything.decode(ours as Buffer), everything.decode(everything.encode(object)), 'decodes to the same object');
  t.end();
});

t.test('what fromObject converts or refuses is passed on, and the codec still answers as encode() does', (t) => {
  const instance = Leaf.fromObject({ name: 'an instance' });
  const cases: [string, Record<string, unknown>][] = [
    ['bytes as base64', { scalars: { fBytes: 'AQID' } }],
    ['a number for a string field', { scalars: { fString: 5 } }],
    ['a string for an int32 field', { rInt32: ['5'] }],
    ['a message instance', { leaf: instance }],
    ['an array where a message goes', { leaf: [] }],
    ['a string where a message goes', { leaf: 'x' }],
    ['a null in a repeated message field', { rLeaf: [null] }],
    ['a repeated field that is not an array', { rInt32: 5 }],
    ['a map that is not an object', { mString: 'x' }],
    ['a null map value', { mString: { a: null } }],
    ['a __proto__ map key', { mString: JSON.parse('{"__proto__":"x","a":"b"}') as Record<string, string> }],
    ['google.protobuf.Any', { extra: { '@type': 'type.googleapis.com/direct.v1.Leaf', name: 'x' } }],
  ];
  for (const [what, object] of cases) {
    t.equal(fused(Everything, object), -1, `${what}: passed on`);
    const expected = reference(everything, object);
    if (expected instanceof Error) {
      t.throws(() => everything.encodedLength!(object), { message: expected.message }, `${what}: refused as encode() refuses it`);
    } else {
      const target = Buffer.alloc(everything.encodedLength!(object));
      everything.encodeInto!(object, target, 0);
      t.same(target, expected, `${what}: the bytes of encode()`);
    }
  }
  t.end();
});

t.test('nesting past the recursion limit is passed on, and refused as encode() refuses it', (t) => {
  let object: Record<string, unknown> = { name: 'bottom' };
  for (let i = 0; i < 150; i++) object = { name: 'x', next: object };
  t.equal(objectEncoder(Leaf)!.length(object), -1);
  const leaf = proto.message('direct.v1.Leaf');
  const expected = reference(leaf, object);
  t.type(expected, Error, 'encode() refuses it');
  t.throws(() => leaf.encodedLength!(object), { message: (expected as Error).message });
  t.end();
});

t.test('the codec encodes a plain object in place, and write() refuses an object it never took', (t) => {
  const object = { scalars: { fInt64: '12', fEnum: 'HAPPY' }, rLeaf: [{ name: 'n' }] };
  const length = everything.encodedLength!(object);
  const target = Buffer.alloc(length + 4);
  t.equal(everything.encodeInto!(object, target, 4), length + 4);
  t.same(target.subarray(4), reference(everything, object));
  t.throws(() => objectEncoder(Everything)!.write({ leaf: 'x' }, target, 0), /needs fromObject/);
  t.equal(objectEncoder(root.lookupType('google.protobuf.Any')), undefined, 'a wrapped type has none of its own');
  t.end();
});

t.test('an object whose getter answers differently between the two passes fails with an error, never garbled bytes', (t) => {
  let reads = 0;
  const object = {
    get fString() {
      return 'x'.repeat(++reads * 50); // 50 characters in the size pass, 100 in the write pass
    },
  };
  const length = scalars.encodedLength!(object);
  const target = Buffer.alloc(length + 200, 0xaa);
  t.throws(() => scalars.encodeInto!(object, target, 0), { name: 'ProtoCodecError', message: /changed between the size and the write pass/ });
  // A getter with the same answer each time (a computed field) is encoded as encode() encodes it.
  const computed = { first: 'Ada', last: 'Lovelace', get fString() { return `${this.first} ${this.last}`; } };
  const bytes = Buffer.alloc(scalars.encodedLength!(computed));
  scalars.encodeInto!(computed, bytes, 0);
  t.same(bytes, reference(scalars, computed));
  t.end();
});

t.test('long strings: ASCII ones (written as Latin-1) and the rest give the bytes encode() gives', (t) => {
  const texts = [
    'x'.repeat(100), // ASCII: the Latin-1 copy
    `${'a'.repeat(60)}\u007f`, // ASCII's last code point
    `${'a'.repeat(60)}é`, // Latin-1 but not ASCII: UTF-8 takes 2 bytes for it
    `${'b'.repeat(50)}\u{1f600}`, // a surrogate pair
    `${'c'.repeat(50)}\ud800`, // a lone surrogate (written as U+FFFD)
    `${'é'.repeat(45)}`,
  ];
  for (const fString of texts) {
    const object = { fString };
    const bytes = Buffer.alloc(scalars.encodedLength!(object));
    scalars.encodeInto!(object, bytes, 0);
    t.same(bytes, reference(scalars, object), JSON.stringify(fString.slice(-3)));
  }
  t.end();
});

t.test('a getter answering an ASCII text in the size pass and another text of as many units after is never written as Latin-1', (t) => {
  // 60 ASCII characters measured (60 bytes), then 60 characters of which one is not ASCII (61 bytes):
  // the same number of UTF-16 units as the measured byte length, so only the text's identity tells.
  let reads = 0;
  const object = {
    get fString() {
      return ++reads % 2 === 1 ? 'a'.repeat(60) : `${'a'.repeat(59)}é`;
    },
  };
  const length = scalars.encodedLength!(object);
  const target = Buffer.alloc(length + 200, 0xaa);
  t.throws(() => scalars.encodeInto!(object, target, 0), { name: 'ProtoCodecError', message: /changed between the size and the write pass/ });
  t.end();
});
