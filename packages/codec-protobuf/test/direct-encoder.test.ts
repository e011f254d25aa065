import t from 'tap';
import * as path from 'node:path';
import * as protobuf from 'protobufjs';
import { loadProto } from '../src/index.js';
import { directEncoder } from '../src/direct-encoder.js';
import { generator } from './fixtures/random-messages.js';

// Differential: the in-place encoder against protobufjs's own `encode().finish()`, byte for byte,
// over many random messages of every field kind (seeded: a failure names its seed and repeats).
const DIRECT = path.join(__dirname, 'fixtures', 'direct.proto');
const proto = loadProto(DIRECT);
const root = proto.root;
const Everything = root.lookupType('direct.v1.Everything');

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
