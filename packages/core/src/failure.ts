import { Code, invalidOption, type RpcError } from './errors.js';

/**
 * The one definition of "failure" the governance plugins share (docs/architecture.md, *What counts
 * as a failure*): the codes that say the provider, or the path to it, did not do its job. Breaker,
 * health (availability), LALB and retry use it by default; each takes an option to change it.
 *
 * Every other code is an *answer*: the provider worked and said no (NOT_FOUND, INVALID_ARGUMENT,
 * PERMISSION_DENIED…). An answer never trips a circuit, lowers availability, moves LALB's weights
 * or gets retried. RESOURCE_EXHAUSTED is an answer too (HTTP 429, not a 5xx, as Envoy's outlier
 * detection counts it): a provider at its rate limit works at capacity, and ejecting it would take
 * that capacity away; a rejection that provably never ran is re-sent elsewhere by retry anyway.
 * CANCELLED (the caller gave up) is neither: it says nothing about the provider.
 */
export const DEFAULT_FAILURE_CODES: readonly Code[] = Object.freeze([
  Code.UNKNOWN,
  Code.DEADLINE_EXCEEDED,
  Code.INTERNAL,
  Code.UNAVAILABLE,
  Code.DATA_LOSS,
]);

/** Whether an error counts as a failure of the provider (true) or is an answer (false). */
export type FailurePredicate = (error: RpcError) => boolean;

/** Accepts `14`, `'UNAVAILABLE'` or `'unavailable'`; undefined for anything that is not a code other than OK. */
export function parseCode(value: unknown): Code | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && Code[value] !== undefined && value !== Code.OK ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const code = (Code as unknown as Record<string, unknown>)[value.toUpperCase()];
  return typeof code === 'number' && code !== Code.OK ? code : undefined;
}

/** How a caller reports a bad option: its own `invalid(name, value, expected)` (plugins prefix their name). */
export type InvalidOptionFactory = (name: string, value: unknown, expected: string) => Error;

/**
 * Checks an option that lists codes (by number or name) and returns them as Codes; throws the
 * caller's ERR_INVALID_OPTION naming the entry that is wrong. The one place codes are parsed.
 */
export function parseCodes(name: string, value: unknown, invalid: InvalidOptionFactory = invalidOption): Code[] {
  if (!Array.isArray(value)) throw invalid(name, value, 'an array of status codes, e.g. ["UNAVAILABLE", "DEADLINE_EXCEEDED"] or [Code.UNAVAILABLE]');
  return value.map((entry, i) => {
    const code = parseCode(entry);
    if (code === undefined) throw invalid(`${name}[${i}]`, entry, 'a status code name (e.g. "UNAVAILABLE") or number other than OK');
    return code;
  });
}

/**
 * A predicate over a code set, as a bitmask (codes are 1..16): one AND per call instead of a Set
 * lookup on the hot path. CANCELLED is never a failure, even when listed.
 */
export function failurePredicate(codes: Iterable<Code> = DEFAULT_FAILURE_CODES): FailurePredicate {
  let mask = 0;
  for (const code of codes) if (code !== Code.CANCELLED) mask |= 1 << code;
  return (error) => (mask & (1 << error.code)) !== 0;
}

/** The default predicate: `DEFAULT_FAILURE_CODES`. */
export const isFailure: FailurePredicate = failurePredicate(DEFAULT_FAILURE_CODES);
