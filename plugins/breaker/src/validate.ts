import { ErrorCodes, TrellisError } from '@trellis/core';

/**
 * Where a setting came from, for error messages: `breaker option` for code, or `breaker document
 * /trellis/config/default/x/breaker field` for a live document. The message names the setting and
 * says what to write instead.
 */
export type Source = string;

export function invalid(source: Source, name: string, value: unknown, expected: string): TrellisError {
  const shown = typeof value === 'function' ? 'a function' : value === undefined ? 'undefined' : JSON.stringify(value);
  return new TrellisError(ErrorCodes.INVALID_OPTION, `${source} "${name}" is ${shown}; expected ${expected}`);
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Throws on keys the shape does not know: a typo in a live document must not be silently ignored. */
export function checkKeys(source: Source, prefix: string, value: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new TrellisError(
        ErrorCodes.INVALID_OPTION,
        `${source} "${prefix}${key}" is not a known setting; known: ${known.join(', ')}`,
      );
    }
  }
}

export function positiveNumber(source: Source, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw invalid(source, name, value, 'a finite number > 0');
  return value;
}

export function nonNegativeNumber(source: Source, name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw invalid(source, name, value, 'a finite number ≥ 0');
  return value;
}

export function integerInRange(source: Source, name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(source, name, value, `an integer from ${min} to ${max}`);
  }
  return value;
}

export function ratio(source: Source, name: string, value: unknown): number {
  if (typeof value !== 'number' || !(value > 0 && value <= 1)) throw invalid(source, name, value, 'a number in (0, 1], e.g. 0.5 for 50 %');
  return value;
}

/** Parses a JSON rule document; a syntax error is reported like any other bad setting. */
export function parseJson(source: Source, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new TrellisError(ErrorCodes.INVALID_OPTION, `${source} is not valid JSON (${(error as Error).message}); publish a JSON object`);
  }
}
