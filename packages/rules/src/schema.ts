/**
 * Rule documents are described with the project's one schema layer (`@trellis/core/toolkit`, TypeBox):
 * each section's rule schema is plain JSON Schema, checked here with every problem collected and
 * located, and exported (`ruleDocumentSchema`) so a browser validates documents with the same schema.
 */
import { expectedOf, joinPath, schemaIssues, show, type TObject, type TSchema } from '@trellis/core/toolkit';

export type Schema = TSchema;
export type ObjectSchema = TObject;

/** A problem at a path relative to the value validated (`match[0].op`; `''` for the value itself). */
export interface SchemaIssue {
  readonly path: string;
  readonly message: string;
}

/** Checks `value` against `schema`; returns every problem found (empty when valid). */
export function validate(schema: Schema, value: unknown, path = ''): SchemaIssue[] {
  return schemaIssues(schema, value).map((issue) => ({ path: under(path, issue.path), message: issue.message }));
}

/** `match[0]` + `op` → `match[0].op`; `match` + `[0]` → `match[0]`. */
export function under(path: string, inner: string): string {
  if (inner === '') return path;
  if (path === '' || inner.startsWith('[')) return `${path}${inner}`;
  return `${path}.${inner}`;
}

/** `a string`, `one of equals, in`, `a string or an array of strings`… */
export const expected = expectedOf;

export { joinPath, show };
