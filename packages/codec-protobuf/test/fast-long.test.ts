import t from 'tap';
import * as protobuf from 'protobufjs';
import { fastUtil } from '../src/fast-long.js';

// The fast path must be indistinguishable from long.js: same bits in, same text out.
interface LongJs {
  low: number;
  high: number;
  unsigned: boolean;
  toString(radix?: number): string;
}
const Long = protobuf.util.Long as unknown as {
  new (low: number, high: number, unsigned?: boolean): LongJs;
  fromValue(value: unknown, unsigned?: boolean): LongJs;
  fromBits(low: number, high: number, unsigned?: boolean): LongJs;
};
const Fast = fastUtil.Long as unknown as {
  new (low: number, high: number, unsigned?: boolean): LongJs;
  fromValue(value: unknown, unsigned?: boolean): LongJs;
  prototype: { toString(this: LongJs, radix?: number): string };
};

function randomInt32(): number {
  return (Math.random() * 0x100000000) | 0;
}

const edgeHighs = [0, -1, 1, 0x1fffff, 0x200000, -0x200000, -0x200001, 0x7fffffff, -0x80000000];

t.test('toString matches long.js for random and edge bit patterns, signed and unsigned', async (t) => {
  let mismatches = 0;
  const check = (low: number, high: number, unsigned: boolean): void => {
    const reference = new Long(low, high, unsigned);
    for (const radix of [undefined, 10, 16]) {
      if (Fast.prototype.toString.call(reference, radix) !== reference.toString(radix)) mismatches++;
    }
    if (new Fast(low, high, unsigned).toString() !== reference.toString()) mismatches++;
  };
  for (const high of edgeHighs) for (const low of [0, 1, -1, 0x7fffffff, -0x80000000]) for (const u of [false, true]) check(low, high, u);
  for (let i = 0; i < 20000; i++) check(randomInt32(), randomInt32() >> (i % 32), i % 2 === 0);
  t.equal(mismatches, 0);
});

t.test('fromValue matches long.js for decimal strings, numbers and Long-likes', async (t) => {
  const inputs: unknown[] = [
    '0', '-0', '7', '-7', '007', '999999999999999', '-999999999999999', '1000000000000000', '9007199254740993',
    '18446744073709551615', '-9223372036854775808', '12abc', '', ' 5', '+5', 42, -42, 2 ** 60,
    { low: 1, high: 2, unsigned: false },
  ];
  for (let i = 0; i < 5000; i++) inputs.push(String(Math.floor((Math.random() - 0.5) * 2 * 10 ** (1 + (i % 18)))));
  let mismatches = 0;
  for (const input of inputs) {
    for (const unsigned of [false, true]) {
      let expected: string;
      let actual: string;
      try {
        const v = Long.fromValue(input, unsigned);
        expected = `${v.low}/${v.high}/${v.unsigned}`;
      } catch (error) {
        expected = `throws ${(error as Error).message}`;
      }
      try {
        const v = Fast.fromValue(input, unsigned);
        actual = `${v.low}/${v.high}/${v.unsigned}`;
      } catch (error) {
        actual = `throws ${(error as Error).message}`;
      }
      if (actual !== expected) {
        mismatches++;
        t.comment(`${JSON.stringify(input)} unsigned=${unsigned}: ${actual} !== ${expected}`);
      }
    }
  }
  t.equal(mismatches, 0);
});

t.test("protobufjs's global util is untouched", async (t) => {
  t.equal(protobuf.util.Long, Long);
  t.not(fastUtil.Long, protobuf.util.Long);
  t.equal(fastUtil.isObject, protobuf.util.isObject, 'everything else is inherited');
});
