import * as protobuf from 'protobufjs';

/**
 * A copy of protobufjs's `util` whose `Long` converts decimal strings of up to 15 digits (always
 * below 2^53) through a double instead of long.js's digit-by-digit arithmetic.
 *
 * Why: with `longs: String` — what gRPC users pass — every int64 field costs a `Long.fromValue(str)`
 * on encode (~260 ns) and a `Long#toString()` on decode (~130 ns): more than half of a small
 * message's round trip. protobufjs's generated converters read `util.Long` from the scope they are
 * built with, so `message-codec.ts` builds them with this scope. protobufjs's global `util` is
 * never touched: proto-loader and grpc-js in the same process keep their behaviour.
 *
 * Anything off the fast path (other radixes, values past 2^53, Long/number inputs, malformed
 * strings) goes to long.js, so results and errors are the same as protobufjs's.
 */

interface LongLike {
  readonly low: number;
  readonly high: number;
  readonly unsigned: boolean;
}

// 15 digits keep |n| < 10^15 < 2^53, where a double is exact.
const SIGNED_DECIMAL = /^-?\d{1,15}$/;
// long.js reads "-5" as unsigned two's complement; Long.fromNumber would clamp it to 0.
const UNSIGNED_DECIMAL = /^\d{1,15}$/;
// |high| bounds under which high * 2^32 + low stays within ±2^53 (exact as a double).
const MAX_SAFE_HIGH = 0x1fffff;
const MIN_SAFE_HIGH = -0x200000;
const TWO_POW_32 = 4294967296;

function createFastUtil(): typeof protobuf.util {
  // Typed loosely on purpose: long.js's statics are not in protobufjs's minimal Long typing.
  const Long = protobuf.util.Long as unknown as {
    new (low: number, high: number, unsigned?: boolean): LongLike;
    prototype: { toString(this: LongLike, radix?: number): string };
    fromValue(value: unknown, unsigned?: boolean): LongLike;
    fromNumber(value: number, unsigned?: boolean): LongLike;
    fromBits(low: number, high: number, unsigned?: boolean): LongLike;
  };
  // Without long.js protobufjs uses plain numbers, and there is nothing to speed up.
  if (!Long) return protobuf.util;

  const longToString = Long.prototype.toString;

  // Generated toObject code calls `new util.Long(0, 0, false).toString()` for defaults and
  // `util.Long.prototype.toString.call(m.id)` for values (decoded values are real long.js Longs).
  function FastLong(this: LongLike, low: number, high: number, unsigned?: boolean): void {
    (Long as unknown as (this: LongLike, ...args: unknown[]) => void).call(this, low, high, unsigned);
  }
  FastLong.prototype = Object.create(Long.prototype) as object;
  (FastLong.prototype as { toString(this: LongLike, radix?: number): string }).toString = function toString(
    this: LongLike,
    radix?: number,
  ): string {
    if (radix === undefined || radix === 10) {
      const high = this.high;
      if (this.unsigned) {
        if (high >>> 0 <= MAX_SAFE_HIGH) return String((high >>> 0) * TWO_POW_32 + (this.low >>> 0));
      } else if (high >= MIN_SAFE_HIGH && high <= MAX_SAFE_HIGH) {
        return String(high * TWO_POW_32 + (this.low >>> 0));
      }
    }
    return longToString.call(this, radix);
  };

  // Generated fromObject code calls `util.Long.fromValue(d.id, unsigned)`.
  const statics = {
    fromValue(value: unknown, unsigned?: boolean): LongLike {
      if (typeof value === 'string' && (unsigned ? UNSIGNED_DECIMAL : SIGNED_DECIMAL).test(value)) {
        return Long.fromNumber(+value, unsigned);
      }
      return Long.fromValue(value, unsigned);
    },
    fromNumber: Long.fromNumber,
    fromBits: Long.fromBits,
  };
  Object.assign(FastLong, statics);

  return Object.create(protobuf.util, { Long: { value: FastLong } }) as typeof protobuf.util;
}

export const fastUtil: typeof protobuf.util = createFastUtil();
