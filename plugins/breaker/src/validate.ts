import { ErrorCodes, TrellisError } from '@trellis/core';
import { describeValue, schemaIssues, show, type TSchema } from '@trellis/core/toolkit';

/**
 * Where a setting came from, for error messages: `breaker option` for code, or `breaker document
 * /trellis/config/default/x/breaker:` for a live document. The message names the setting and says
 * what to write instead.
 */
export type Source = string;

export function invalid(source: Source, name: string, value: unknown, expected: string): TrellisError {
  return new TrellisError(ErrorCodes.INVALID_OPTION, `${source} "${name}" is ${describeValue(value)}; expected ${expected}`);
}

/**
 * Checks a live document's settings against the same TypeBox schema `parseOptions` checks the code's
 * options with (the toolkit's one schema layer), and throws the first problem in the same words.
 */
export function checkSchema(source: Source, schema: TSchema, value: unknown): void {
  const issue = schemaIssues(schema, value, 1)[0];
  if (issue === undefined) return;
  if (issue.path === '') throw new TrellisError(ErrorCodes.INVALID_OPTION, `${source} is ${show(issue.received)}; expected ${issue.expected}`);
  throw invalid(source, issue.path, issue.received, issue.expected);
}

/** Parses a JSON rule document; a syntax error is reported like any other bad setting. */
export function parseJson(source: Source, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new TrellisError(ErrorCodes.INVALID_OPTION, `${source} is not valid JSON (${(error as Error).message}); publish a JSON object`);
  }
}
