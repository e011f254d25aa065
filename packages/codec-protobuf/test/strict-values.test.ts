import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { loadProto } from '../src/index.js';

// Issue #16: int64 fields silently coerced 'abc' to 0 (and wrapped or truncated other bad values),
// unknown enum names silently became 0. Encoding now refuses them, naming the field.
const RICH = path.join(__dirname, 'fixtures', 'rich.proto');
const ECHO = path.join(__dirname, '..', '..', 'testkit', 'protos', 'echo.proto');

t.test('int64 values that are not integers in range are refused, naming the field', async (t) => {
  const codec = loadProto(ECHO).message<Record<string, unknown>>('trellis.test.EchoRequest');
  for (const id of ['abc', '12abc', '1.5', ' 12', '', '0x10', '+5', 1.5, NaN, Infinity, '99999999999999999999', '-9223372036854775809', 1e20, true, {}]) {
    t.throws(() => codec.encode({ id }), {
      name: 'ProtoCodecError',
      message: /^cannot encode trellis\.test\.EchoRequest: field "id" is .*: (not a decimal integer|not an integer|out of the int64 range|not a number); expected a decimal integer string/,
    }, `id ${typeof id === 'string' ? JSON.stringify(id) : String(id)}`);
  }
  for (const id of ['0', '-7', '007', '9223372036854775807', '-9223372036854775808', 42, -42, 2 ** 60, 9007199254740993n]) {
    t.doesNotThrow(() => codec.encode({ id }), `id ${String(id)} is fine`);
  }
  t.equal(codec.decode(codec.encode({ id: '-9223372036854775808' }))['id'], '-9223372036854775808');
  t.equal(codec.decode(codec.encode({ id: 9007199254740993n }))['id'], '9007199254740993');
});

t.test('unsigned 64-bit fields refuse negative and too-large values', async (t) => {
  const codec = loadProto(RICH).message<Record<string, unknown>>('rich.v1.Rich');
  t.throws(() => codec.encode({ u64: '-5' }), { message: /field "u64" is "-5": not a decimal non-negative integer/ });
  t.throws(() => codec.encode({ u64: -5 }), { message: /field "u64" is -5: out of the uint64 range/ });
  t.throws(() => codec.encode({ f64: '18446744073709551616' }), { message: /field "f64" is "18446744073709551616": out of the fixed64 range/ });
  t.equal(codec.decode(codec.encode({ u64: '18446744073709551615' }))['u64'], '18446744073709551615');
});

t.test('unknown enum names are refused; unknown numbers pass (proto3 enums are open)', async (t) => {
  const codec = loadProto(RICH).message<Record<string, unknown>>('rich.v1.Rich');
  t.throws(() => codec.encode({ color: 'PURPLE' }), { message: 'cannot encode rich.v1.Rich: field "color" is "PURPLE": not a value of enum Color (COLOR_UNSPECIFIED, RED, GREEN)' });
  t.throws(() => codec.encode({ colors: ['RED', 'X'] }), { message: /field "colors\[1\]" is "X": not a value of enum Color/ });
  t.throws(() => codec.encode({ color: 1.5 }), { message: /field "color" is 1\.5: not an int32 enum number/ });
  t.throws(() => codec.encode({ color: true }), { message: /field "color" is true: not an enum value/ });
  t.equal(codec.decode(codec.encode({ color: 99 }))['color'], 99);
  t.equal(codec.decode(codec.encode({ color: 'RED' }))['color'], 'RED');
});

t.test('nested messages and map values are checked too', async (t) => {
  const codec = loadProto(RICH).message<Record<string, unknown>>('rich.v1.Rich');
  t.throws(() => codec.encode({ at: { seconds: 'soon' } }), { message: /^cannot encode rich\.v1\.Rich: field "seconds" is "soon": not a decimal integer/ }, 'a nested Timestamp');
  t.doesNotThrow(() => codec.encode({ byLong: { '12': 'twelve' } }), 'an int64 map key is the map\'s business');
  const dir = mkdtempSync(path.join(tmpdir(), 'trellis-codec-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'maps.proto');
  writeFileSync(file, 'syntax = "proto3"; package m; enum E { A = 0; B = 1; } message M { map<string, E> kinds = 1; map<string, int64> counts = 2; }');
  const maps = loadProto(file).message<Record<string, unknown>>('m.M');
  t.throws(() => maps.encode({ kinds: { x: 'A', y: 'C' } }), { message: /field "kinds\["y"\]" is "C": not a value of enum E \(A, B\)/ });
  t.throws(() => maps.encode({ counts: { x: '1', y: 'many' } }), { message: /field "counts\["y"\]" is "many": not a decimal integer/ });
  t.same(maps.decode(maps.encode({ kinds: { x: 'B' }, counts: { y: '3' } })), { kinds: { x: 'B' }, counts: { y: '3' } });
});
