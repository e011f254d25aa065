import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import { loadProto, ProtoCodecError, type ProtoLoadOptions } from '../src/index.js';
import { resolveLoadOptions } from '../src/load-options.js';
import { strictReader } from '../src/strict-reader.js';
import { generator, random } from './fixtures/random-messages.js';

// Differential: the codec's decode (object-decoder.ts: bytes straight to the plain object) against
// protobufjs's own decode + toObject with the same conversion options, value for value, type for
// type (a Buffer is not an array, "5" is not 5) and key for key, over random messages of every field
// kind (seeded: a failure names its seed and repeats).
const DIRECT = path.join(__dirname, 'fixtures', 'direct.proto');
const Long = protobuf.util.Long as unknown as new (...args: unknown[]) => object;

/** A canonical text of a decoded value: types, key order and NaN / -0 included. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'undefined': return 'undefined';
    case 'string': return JSON.stringify(value);
    case 'number': return `${Object.is(value, -0) ? '-0' : String(value)}:number`;
    case 'bigint': return `${value}n`;
    case 'boolean': return String(value);
    default: break;
  }
  if (Buffer.isBuffer(value)) return `Buffer<${value.toString('hex')}>`;
  if (Array.isArray(value)) return `[${value.map(describe).join(',')}]`;
  if (value instanceof Long) {
    const long = value as { low: number; high: number; unsigned: boolean };
    return `Long(${long.low},${long.high},${long.unsigned})`;
  }
  const object = value as Record<string, unknown>;
  const proto = Object.getPrototypeOf(object) === Object.prototype ? '' : '@other-prototype';
  return `{${Object.keys(object).map((key) => `${JSON.stringify(key)}:${describe(object[key])}`).join(',')}}${proto}`;
}

const OPTION_SETS: readonly [string, ProtoLoadOptions][] = [
  ['the defaults (longs String, enums String, bytes Buffer, defaults, oneofs)', {}],
  ['longs Number, enums Number, bytes String, no defaults, no oneofs, json', { longs: Number, enums: Number, bytes: String, defaults: false, oneofs: false, json: true }],
  ['Long objects, bytes Array, arrays and objects without defaults', { longs: undefined, bytes: Array, defaults: false, arrays: true, objects: true }],
  ['longs BigInt, keepCase', { longs: BigInt, keepCase: true }],
];

for (const [label, options] of OPTION_SETS) {
  const proto = loadProto(DIRECT, options);
  const Everything = proto.root.lookupType('direct.v1.Everything');
  const conversion = resolveLoadOptions(options).conversion;
  const codec = proto.message('direct.v1.Everything');
  const reference = (bytes: Uint8Array): string => describe(Everything.toObject(Everything.decode(strictReader(bytes)), conversion));
  // keepCase: the generator's camelCase names are mapped to the .proto's names.
  const named = (object: unknown): unknown => {
    if (!options.keepCase || object === null || typeof object !== 'object' || Array.isArray(object) || Buffer.isBuffer(object)) return object;
    return Object.fromEntries(Object.entries(object as Record<string, unknown>).map(([key, value]) => [key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), /^m[A-Z]/.test(key) ? value : named(value)]));
  };
  const encoded = (seed: number): Uint8Array => Everything.encode(Everything.fromObject(named(generator(seed).everything()) as Record<string, unknown>)).finish();

  t.test(`${label}: what protobufjs decode + toObject give, over 250 random messages`, (t) => {
    let same = 0;
    for (let seed = 1; seed <= 250; seed++) {
      const bytes = encoded(seed);
      const expected = reference(bytes);
      const actual = describe(codec.decode(bytes));
      if (actual !== expected) {
        t.equal(actual, expected, `seed ${seed}`);
        break;
      }
      same++;
    }
    t.equal(same, 250, 'every message identical');
    t.end();
  });

  t.test(`${label}: two messages concatenated (later singular values win, lists append, maps merge)`, (t) => {
    let same = 0;
    for (let seed = 2001; seed <= 2060; seed++) {
      const bytes = Buffer.concat([encoded(seed), encoded(seed + 1000)]);
      if (describe(codec.decode(bytes)) === reference(bytes)) same++;
      else {
        t.equal(describe(codec.decode(bytes)), reference(bytes), `seed ${seed}`);
        break;
      }
    }
    t.equal(same, 60);
    t.end();
  });
}

const proto = loadProto(DIRECT);
const Everything = proto.root.lookupType('direct.v1.Everything');
const codec = proto.message('direct.v1.Everything');
const conversion = resolveLoadOptions({}).conversion;
const reference = (bytes: Uint8Array): string => {
  try {
    return describe(Everything.toObject(Everything.decode(strictReader(bytes)), conversion));
  } catch {
    return 'throws';
  }
};
const ours = (bytes: Uint8Array): string => {
  try {
    return describe(codec.decode(bytes));
  } catch {
    return 'throws';
  }
};

// protobufjs's reader accepts a varint cut short within the last 4 bytes of its input (it reads
// what is there and stops); the object decoder refuses it, as it refuses every other truncation.
// Otherwise both must agree: the same object, or both throw.
function sameOrStricter(t: Test, bytes: Uint8Array, what: string): 'same' | 'stricter' | 'differs' {
  const expected = reference(bytes);
  const actual = ours(bytes);
  if (actual === expected) return 'same';
  if (actual === 'throws') return 'stricter';
  t.equal(actual, expected, what);
  return 'differs';
}

t.test('every prefix of a message (truncated input): the object protobufjs gives, or a throw, never another object', (t) => {
  const counts = { same: 0, stricter: 0, differs: 0 };
  let threw = 0;
  for (let seed = 3001; seed <= 3012; seed++) {
    const bytes = Everything.encode(Everything.fromObject(generator(seed).everything())).finish();
    // About 100 cuts per message, at every byte of its start (small messages are cut everywhere).
    const stride = Math.max(1, Math.floor(bytes.length / 100));
    for (let cut = 0; cut < bytes.length; cut += cut < 64 ? 1 : stride) {
      const prefix = bytes.subarray(0, cut);
      if (ours(prefix) === 'throws') threw++;
      if (++counts[sameOrStricter(t, prefix, `seed ${seed}, first ${cut} bytes`)] && counts.differs > 0) return t.end();
    }
  }
  t.equal(counts.differs, 0);
  t.ok(threw > 50, `most prefixes are refused (${threw} of ${counts.same + counts.stricter})`);
  t.ok(counts.stricter < counts.same / 10, `refused where protobufjs accepted a cut varint: ${counts.stricter}`);
  t.end();
});

t.test('random bytes: the object protobufjs gives, or a throw, never another object, never a crash', (t) => {
  const r = random(77);
  const counts = { same: 0, stricter: 0, differs: 0 };
  for (let i = 0; i < 2000; i++) {
    const bytes = Buffer.alloc(1 + Math.floor(r() * 40));
    for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(r() * 256);
    if (++counts[sameOrStricter(t, bytes, `bytes ${bytes.toString('hex')}`)] && counts.differs > 0) return t.end();
  }
  t.equal(counts.differs, 0);
  t.ok(counts.stricter < counts.same / 10, `refused where protobufjs accepted: ${counts.stricter} of 2000`);
  t.end();
});

t.test('a packed field sent unpacked and an unpacked one sent packed both decode (as protobufjs accepts)', (t) => {
  // r_int32 = 4 (packed) as two plain varints; unpacked_int32 = 16 as one packed run.
  const bytes = Buffer.from([0x20, 0x05, 0x20, 0x7f, 0x82, 0x01, 0x02, 0x01, 0x02]);
  t.equal(ours(bytes), reference(bytes));
  t.match(codec.decode(bytes), { rInt32: [5, 127], unpackedInt32: [1, 2] });
  t.end();
});

t.test('unknown fields of every wire type (groups included) are skipped', (t) => {
  const writer = protobuf.Writer.create();
  writer.uint32((1000 << 3) | 0).uint64(123456789);
  writer.uint32((1001 << 3) | 1).fixed64(7);
  writer.uint32((1002 << 3) | 2).string('skip me');
  writer.uint32((1003 << 3) | 3).uint32((1 << 3) | 0).uint32(1).uint32((1003 << 3) | 4);
  writer.uint32((1004 << 3) | 5).fixed32(9);
  writer.uint32((34 << 3) | 2).string('kept');
  const bytes = writer.finish();
  t.equal(ours(bytes), reference(bytes));
  t.match(codec.decode(bytes), { oText: 'kept', choice: 'oText' });
  t.end();
});

t.test('a nested type with a proto2 required field is decoded by protobufjs where it occurs (its missing-field error too)', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'object-decoder-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'p2.proto');
  writeFileSync(file, 'syntax = "proto2"; package p2; message Inner { required int32 a = 1; optional string b = 2; } message Outer { optional Inner inner = 1; repeated Inner list = 2; optional string s = 3; }');
  const p2 = loadProto(file);
  const Outer = p2.root.lookupType('p2.Outer');
  const outer = p2.message('p2.Outer');
  const inner = p2.message('p2.Inner');
  const good = Outer.encode(Outer.fromObject({ inner: { a: 1, b: 'x' }, list: [{ a: 2 }, { a: 3 }], s: 'y' })).finish();
  const expected = describe(Outer.toObject(Outer.decode(good), resolveLoadOptions({}).conversion));
  t.equal(describe(outer.decode(good)), expected);
  // Inner without its required field: protobufjs refuses it, nested or not.
  const missing = Buffer.from([0x0a, 0x02, 0x12, 0x00]);
  t.throws(() => outer.decode(missing), ProtoCodecError);
  t.throws(() => inner.decode(Buffer.from([0x12, 0x00])), ProtoCodecError);
  t.match(inner.decode(Buffer.from([0x08, 0x07])), { a: 7 });
  t.end();
});
