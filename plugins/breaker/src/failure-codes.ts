import { Code, type FailurePredicate, type RpcError } from '@trellis/core';

// What counts as a failure is the kernel's one definition (DEFAULT_FAILURE_CODES in @trellis/core,
// docs/architecture.md): the same codes trip a circuit, lower health's availability, cost an LALB
// penalty and get retried. This file only says what an outcome means to a circuit or a limiter.
export { DEFAULT_FAILURE_CODES, failurePredicate, parseCode, parseCodes, type FailurePredicate } from '@trellis/core';

/** What one finished call means to a breaker or a limiter. */
export const Outcome = {
  SUCCESS: 0,
  FAILURE: 1,
  /** The caller gave up (CANCELLED): says nothing about the provider, so it is not counted at all. */
  IGNORED: 2,
} as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

export function classify(error: RpcError, isFailure: FailurePredicate): Outcome {
  if (error.code === Code.CANCELLED) return Outcome.IGNORED;
  return isFailure(error) ? Outcome.FAILURE : Outcome.SUCCESS;
}
