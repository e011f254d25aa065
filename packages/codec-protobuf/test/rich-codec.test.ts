import t from 'tap';
import * as path from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import { loadProto, type ProtoLoadOptions } from '../src/index.js';

// Differential: our codecs against proto-loader's own serializers — the semantics grpc-js users
// know — on every field kind, under several option sets.
const RICH = path.join(__dirname, 'fixtures', 'rich.proto');

const sample = {
  bigId: '-9007199254740993',
  u64: '18446744073709551615',
  s64: '-5',
  f64: '7',
  sf64: '-123456789012345',
  blob: Buffer.from([0, 1, 254, 255]),
  color: 'GREEN',
  byKey: { a: { snakeName: 'x', child: { snakeName: 'deep' } }, b: {} },
  byLong: { '12': 'twelve' },
  inners: [{ snakeName: 'y' }, {}],
  num: 5,
  maybe: 'present',
  at: { seconds: '1700000000', nanos: 5 },
  ratio: 1.5,
  small: 0.25,
  flag: true,
  nested: { x: -3 },
  colors: ['RED', 2, 'COLOR_UNSPECIFIED'],
  tags: ['a', ''],
  s32: -100,
  f32: 4000000000,
  extra: { type_url: 'type.googleapis.com/rich.v1.Inner', value: Buffer.from([10, 1, 65]) },
};

const optionSets: Array<[string, ProtoLoadOptions, protoLoader.Options]> = [
  ['defaults', {}, { longs: String, enums: String, defaults: true, oneofs: true }],
  ['numbers', { longs: Number, enums: Number, defaults: false, oneofs: false }, { longs: Number }],
  ['bytes as base64, arrays, objects, json', { bytes: String, defaults: false, arrays: true, objects: true, json: true },
    { longs: String, enums: String, bytes: String, arrays: true, objects: true, oneofs: true, json: true }],
  ['Long objects', { longs: undefined }, { enums: String, defaults: true, oneofs: true }],
];

for (const [label, ours, theirs] of optionSets) {
  t.test(`rich.v1.Rich matches proto-loader: ${label}`, async (t) => {
    const codec = loadProto(RICH, ours).message('rich.v1.Rich');
    const reference = protoLoader.loadSync(RICH, theirs)['rich.v1.Rich'] as protoLoader.MessageTypeDefinition<object, object>;
    const bytes = codec.encode(sample);
    t.same(Buffer.from(bytes), reference.serialize(sample), 'same bytes');
    t.same(codec.decode(bytes), reference.deserialize(Buffer.from(bytes)), 'same object');
    t.same(codec.decode(new Uint8Array(0)), reference.deserialize(Buffer.alloc(0)), 'same defaults');
  });
}

t.test('keepCase keeps field names as written', async (t) => {
  const codec = loadProto(RICH, { keepCase: true }).message<Record<string, unknown>>('rich.v1.Inner');
  t.same(codec.decode(codec.encode({ snake_name: 'kept' })), { snake_name: 'kept', child: null });
});

t.test('enums by name or number, decoded to names; unknown numbers pass through', async (t) => {
  const codec = loadProto(RICH).message<Record<string, unknown>>('rich.v1.Rich');
  t.equal(codec.decode(codec.encode({ color: 1 }))['color'], 'RED');
  t.equal(codec.decode(codec.encode({ color: 'GREEN' }))['color'], 'GREEN');
  t.equal(codec.decode(codec.encode({ color: 99 }))['color'], 99);
});

t.test('oneof: the virtual property names the field that is set', async (t) => {
  const codec = loadProto(RICH).message<Record<string, unknown>>('rich.v1.Rich');
  t.match(codec.decode(codec.encode({ text: 'hi' })), { text: 'hi', choice: 'text' });
  t.notOk('choice' in codec.decode(codec.encode({})), 'absent when neither is set');
});

t.test('recursive messages', async (t) => {
  const codec = loadProto(RICH).message<Record<string, unknown>>('rich.v1.Inner');
  const message = { snakeName: 'a', child: { snakeName: 'b', child: { snakeName: 'c', child: null } } };
  t.same(codec.decode(codec.encode(message)), message);
});
