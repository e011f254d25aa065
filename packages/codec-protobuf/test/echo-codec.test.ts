import t from 'tap';
import * as path from 'node:path';
import { loadProto } from '../src/index.js';

// The repo-wide fixture, by path: the testkit depends on this package, not the other way round.
const ECHO_PROTO = path.join(__dirname, '..', '..', 'testkit', 'protos', 'echo.proto');
const echo = loadProto(ECHO_PROTO);
const request = echo.message<Record<string, unknown>>('trellis.test.EchoRequest');
const reply = echo.message<Record<string, unknown>>('trellis.test.EchoReply');

t.test('EchoRequest round-trips every field, int64 as a decimal string', async (t) => {
  const message = {
    message: 'héllo ✓',
    id: '9223372036854775807',
    values: [1, -2, 2147483647, -2147483648],
    delayMs: 4294967295,
    failCode: 14,
    failMessage: 'unavailable',
  };
  t.same(request.decode(request.encode(message)), message);
});

t.test('int64 ids: exact at and beyond 2^53, negative, from a number, a string or a Long-like', async (t) => {
  for (const id of ['0', '1', '-1', '9007199254740991', '9007199254740993', '-9223372036854775808', '123456789012345']) {
    t.equal(request.decode(request.encode({ id })).id, id, id);
  }
  t.equal(request.decode(request.encode({ id: 42 })).id, '42', 'a number is accepted');
  t.equal(request.decode(request.encode({ id: { low: 5, high: 1 } })).id, '4294967301', 'a Long-like is accepted');
});

t.test('absent fields decode to their defaults (defaults: true)', async (t) => {
  t.same(request.decode(request.encode({})), {
    message: '',
    id: '0',
    values: [],
    delayMs: 0,
    failCode: 0,
    failMessage: '',
  });
  t.equal(request.encode({}).length, 0, 'defaults are not written');
});

t.test('EchoReply round-trips, camelCase served_by', async (t) => {
  const message = { message: 'm', id: '-7', values: [3], servedBy: 'provider-1', attempt: 2 };
  t.same(reply.decode(reply.encode(message)), message);
});

t.test('EchoRequest and EchoReply share field numbers 1-3', async (t) => {
  const decoded = reply.decode(request.encode({ message: 'same', id: '8', values: [1, 2] }));
  t.match(decoded, { message: 'same', id: '8', values: [1, 2] });
});

t.test('the codec is reusable and returns fresh objects', async (t) => {
  const bytes = request.encode({ message: 'a', values: [1] });
  const first = request.decode(bytes);
  const second = request.decode(bytes);
  t.not(first, second);
  t.not(first['values'], second['values']);
  t.ok(bytes instanceof Uint8Array);
});
