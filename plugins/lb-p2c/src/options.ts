import { systemClock, type Clock } from '@trellis/core/spi';
import { Type, parseOptions } from '@trellis/core/toolkit';

/** Finagle's and Linkerd's default decay time of the latency estimate. */
export const DEFAULT_DECAY_MS = 10_000;

export interface P2cOptions {
  /**
   * Time constant of the latency estimate (ms): an observation's weight falls to 1/e after this
   * long, and a slow answer is forgotten over a few times this. Default 10 000 (Finagle, Linkerd).
   */
  readonly decayMs?: number;
  /** Monotonic ms. Default: core's `systemClock`; the plugin passes the client's clock. */
  readonly clock?: Clock;
  /** Uniform in [0, 1). Default `Math.random`; tests pass a seeded generator. */
  readonly random?: () => number;
}

export interface ResolvedP2cOptions {
  readonly decayMs: number;
  readonly clock: Clock;
  readonly random: () => number;
}

const P2cOptionsSchema = Type.Object({
  decayMs: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'a number of ms > 0 (Finagle and Linkerd use 10 000)' })),
  clock: Type.Optional(Type.Object({ now: Type.Function([], Type.Number()) }, { description: 'an object with now(): number' })),
  random: Type.Optional(Type.Function([], Type.Number(), { description: 'a function returning [0, 1)' })),
}, { additionalProperties: false }); // a typo is refused, not ignored in silence

/** Fills defaults and rejects bad values at construction, with a sentence saying what to pass. */
export function resolveP2cOptions(options: P2cOptions = {}): ResolvedP2cOptions {
  const { decayMs = DEFAULT_DECAY_MS, clock = systemClock, random = Math.random } = parseOptions(P2cOptionsSchema, options, 'lb-p2c');
  return { decayMs, clock, random };
}
