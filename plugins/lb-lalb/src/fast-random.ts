import { randomFillSync } from 'node:crypto';

/**
 * LALB's default dice: xoshiro128** (Blackman and Vigna), a generator that allocates nothing.
 *
 * `Math.random()` is a builtin V8 does not inline on the pick's path, and its result — a fraction —
 * comes back as a heap number: 16 B per pick, the governed client's largest per-call allocation
 * after the kernel's own. Here the state is four 32-bit words in an Int32Array (a typed array's
 * elements are raw integers, never boxed), every step is int32 arithmetic (`Math.imul`, shifts),
 * and `next30` returns 30 bits: a small integer even from a call V8 does not inline. A fraction
 * returned from a call V8 did not inline is boxed, so the pick writes `fraction` out in its own
 * code (two `next30` calls), where the fraction stays in a register.
 *
 * Not for anything secret. Seeded once per generator from the system's random source, so different
 * balancers (and processes) draw different sequences.
 */
export class FastRandom {
  private readonly state = new Int32Array(4);

  /** `seed`: up to four 32-bit words (tests); by default from `crypto.randomFillSync`. */
  constructor(seed?: readonly number[]) {
    const state = this.state;
    if (seed === undefined) randomFillSync(state);
    else for (let i = 0; i < 4 && i < seed.length; i++) state[i] = seed[i]!;
    // The all-zero state is xoshiro's one fixed point: it would draw 0 for ever.
    if ((state[0]! | state[1]! | state[2]! | state[3]!) === 0) state[0] = 1;
  }

  /** Uniform in [0, 1), in steps of 2^-53 (30 + 23 bits from two steps; V8's `Math.random` has 52). */
  fraction(): number {
    return (this.next30() * 8388608 + (this.next30() >>> 7)) / 9007199254740992;
  }

  /** One xoshiro128** step: the top 30 of its 32 output bits, 0 to 2^30 − 1. */
  next30(): number {
    const s = this.state;
    const s0 = s[0]!;
    const s1 = s[1]!;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
    const t = s1 << 9;
    const s2 = s[2]! ^ s0;
    const s3 = s[3]! ^ s1;
    s[0] = s0 ^ s3;
    s[1] = s1 ^ s2;
    s[2] = s2 ^ t;
    s[3] = rotl(s3, 11);
    return result >>> 2;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
