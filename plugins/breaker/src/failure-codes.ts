import { Code, type RpcError } from '@trellis/core';

/**
 * Codes that say the provider (or the path to it) is in trouble. Everything else is an answer: a
 * NOT_FOUND or INVALID_ARGUMENT means the provider worked and the request was wrong, so it must not
 * trip a breaker. RESOURCE_EXHAUSTED is left out on purpose: a rate-limited provider is working at
 * its limit, and the retry plugin sends the call elsewhere; opening its circuit would take away the
 * capacity it still has.
 */
export const DEFAULT_FAILURE_CODES: readonly Code[] = Object.freeze([
  Code.UNKNOWN,
  Code.DEADLINE_EXCEEDED,
  Code.INTERNAL,
  Code.UNAVAILABLE,
  Code.DATA_LOSS,
]);

/** What one finished call means to a breaker or a limiter. */
export const Outcome = {
  SUCCESS: 0,
  FAILURE: 1,
  /** The caller gave up (CANCELLED): says nothing about the provider, so it is not counted at all. */
  IGNORED: 2,
} as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

export type FailurePredicate = (error: RpcError) => boolean;

/** Accepts `14`, `'UNAVAILABLE'` or `'unavailable'`; undefined for anything that is not a code. */
export function parseCode(value: unknown): Code | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && Code[value] !== undefined && value !== Code.OK ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const code = (Code as unknown as Record<string, number>)[value.toUpperCase()];
  return typeof code === 'number' && code !== Code.OK ? code : undefined;
}

export function codeSetPredicate(codes: Iterable<Code>): FailurePredicate {
  // A bitmask: codes are 1..16, and one AND per call beats a Set lookup on the hot path.
  let mask = 0;
  for (const code of codes) mask |= 1 << code;
  return (error) => (mask & (1 << error.code)) !== 0;
}

export function classify(error: RpcError, isFailure: FailurePredicate): Outcome {
  if (error.code === Code.CANCELLED) return Outcome.IGNORED;
  return isFailure(error) ? Outcome.FAILURE : Outcome.SUCCESS;
}
