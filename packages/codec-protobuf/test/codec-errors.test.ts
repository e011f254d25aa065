import t from 'tap';
import * as path from 'node:path';
import { loadProto, ProtoCodecError } from '../src/index.js';

const ECHO_PROTO = path.join(__dirname, '..', '..', 'testkit', 'protos', 'echo.proto');
const request = loadProto(ECHO_PROTO).message('trellis.test.EchoRequest');
const valid = Buffer.from(request.encode({ message: 'hello world', id: '12345', values: [1, 2, 3] }));

// Bytes that are not a valid encoding. (Bytes that happen to be a valid encoding decode, as in
// every protobuf implementation; the frame layer guards against corruption in transit.)
const malformed: Array<[string, Uint8Array]> = [
  // protobufjs alone decodes this one to 'hel' (its BufferReader clamps string lengths).
  ['truncated inside a string', valid.subarray(0, 5)],
  ['truncated inside a string, as a plain Uint8Array', new Uint8Array(valid).subarray(0, 5)],
  ['truncated inside the packed values', valid.subarray(0, valid.length - 1)],
  ['a length past the end', Buffer.from([0x0a, 0x7f, 0x61])],
  ['wire type 7', Buffer.from([0x0f])],
  ['wire type 6 on an unknown field', Buffer.from('not a protobuf')],
  ['a varint longer than 10 bytes', Buffer.from([0x10, ...new Array<number>(11).fill(0xff), 0x01])],
  ['a lone tag byte with its continuation bit set', Buffer.from([0xff])],
  ['an unterminated group', Buffer.from([0x3b])],
];

for (const [label, bytes] of malformed) {
  t.test(`decode throws on ${label}, naming the message type`, async (t) => {
    const error = t.throws(() => request.decode(bytes)) as ProtoCodecError;
    t.type(error, ProtoCodecError);
    t.equal(error.operation, 'decode');
    t.equal(error.typeName, 'trellis.test.EchoRequest');
    t.match(error.message, /^cannot decode trellis\.test\.EchoRequest: \S/);
    t.ok(error.cause, 'keeps the protobufjs error as cause');
  });
}

t.test('encode throws on a wrong shape, naming the message type', async (t) => {
  for (const bad of [null, undefined, 'text', [{ message: 'x' }], { values: 'not an array' }]) {
    const error = t.throws(() => request.encode(bad)) as ProtoCodecError;
    t.type(error, ProtoCodecError, JSON.stringify(bad) ?? 'undefined');
    t.match(error.message, /^cannot encode trellis\.test\.EchoRequest: /);
  }
});

t.test('a plain Uint8Array (not a Buffer) and a view into a larger buffer decode', async (t) => {
  t.match(request.decode(new Uint8Array(valid)), { message: 'hello world', id: '12345', values: [1, 2, 3] });
  const framed = Buffer.concat([Buffer.from([9, 9, 9]), valid, Buffer.from([0x0f])]);
  t.match(request.decode(framed.subarray(3, 3 + valid.length)), { message: 'hello world', values: [1, 2, 3] });
});

t.test('unknown fields are skipped, as protobuf requires', async (t) => {
  // field 15, varint 1: not in EchoRequest
  const withUnknown = Buffer.concat([valid, Buffer.from([0x78, 0x01])]);
  t.match(request.decode(withUnknown), { message: 'hello world', id: '12345' });
});
