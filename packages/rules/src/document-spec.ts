import type { TrellisError } from '@trellis/core';
import type { ServiceQuery } from '@trellis/core/spi';
import { InvalidOptionError, schemaIssues, show, type TSchema } from '@trellis/core/toolkit';
import { contentVersion, type Outcome } from './document.js';
import { RuleDocumentError, type RuleIssue } from './errors.js';
import { parseRuleText } from './parse.js';

/**
 * A problem with a whole document. Besides the field and the sentence every rule issue has, it
 * carries what was expected and what was found when the schema (or a plugin's check) says so, for
 * plugins that word their own errors (`breaker document …: "errorRatio" is 7; expected …`).
 */
export interface DocumentIssue extends RuleIssue {
  readonly expected?: string;
  readonly received?: unknown;
}

/** Where a live document lives, for the messages that name it. */
export interface DocumentPlace {
  /** The document's name: `breaker`, `limits`. */
  readonly document: string;
  readonly service: ServiceQuery;
  /** The registry's name: `etcd`, `zookeeper`, `memory`. */
  readonly registry: string;
  /** Its key: `/trellis/config/{group}/{service}/{document}`. */
  readonly path: string;
}

/**
 * A document a plugin owns whole (not a section of a shared one): the breaker's settings of a
 * consumed service, the limiter's limits of a provided one. The plugin declares it once; @trellis/rules
 * reads it (JSON or YAML), checks it against `schema`, follows it live with the same watch, last-good
 * and error reporting as the rule sections, and lets the admin console validate an edit exactly as
 * the plugin will.
 */
export interface DocumentSpec<V> {
  /** The document's default name: `/trellis/config/{group}/{service}/{document}`. */
  readonly document: string;
  /** Who follows it: the service's consumers (`client`) or its providers (`server`). */
  readonly side: 'client' | 'server';
  /** The whole document's TypeBox schema (from `@trellis/core/toolkit`): plain JSON Schema, for browsers too. */
  readonly schema: TSchema;
  /**
   * What the schema cannot say (one field against another): runs after the schema passed, and
   * throws core's `InvalidOptionError` (`invalidOption(path, value, expected)`) naming the field.
   */
  readonly check?: (value: V) => void;
  /**
   * The error a rejected live document is reported with. Default: a `RuleDocumentError` with code
   * `ERR_INVALID_RULES` listing every issue. The previous document stays in force either way.
   */
  readonly rejected?: (place: DocumentPlace, issues: readonly DocumentIssue[]) => TrellisError;
}

/** A document read and checked: the value, its content version, and what the plugin compiled of it. */
export interface ReadWholeDocument<V, C> {
  readonly value: V;
  /** `sha256:<12 hex>` of the text: whole documents have no `version` field of their own. */
  readonly version: string;
  readonly compiled: C;
}

/**
 * Reads `text` as `spec`'s document: parse (JSON or YAML, with the limits of every rule document),
 * schema (every problem), the spec's `check`, then `compile` — the plugin's own step, which may
 * throw an `InvalidOptionError` for a combination only its settings reveal (a cool-down above the
 * code's cap). Nothing is applied: the live watch swaps `compiled` in; tools only look at the outcome.
 */
export function readWholeDocument<V, C = V>(spec: DocumentSpec<V>, text: string, compile?: (value: V) => C): Outcome<ReadWholeDocument<V, C>> {
  const parsed = parseRuleText(text);
  if (!parsed.ok) return { ok: false, issues: [parsed.issue] };
  const issues: DocumentIssue[] = schemaIssues(spec.schema, parsed.value)
    .map((issue) => ({ field: issue.path, message: issue.message, expected: issue.expected, received: issue.received }));
  if (issues.length > 0) return { ok: false, issues };
  const value = parsed.value as V;
  try {
    spec.check?.(value);
    const compiled = compile === undefined ? (value as unknown as C) : compile(value);
    return { ok: true, value: { value, version: contentVersion(text), compiled } };
  } catch (error) {
    return { ok: false, issues: [thrownIssue(error)] };
  }
}

/** A plugin's check or compile step threw: its InvalidOptionError names the field. */
function thrownIssue(error: unknown): DocumentIssue {
  if (error instanceof InvalidOptionError) {
    return { field: error.path, message: `expected ${error.expected}, got ${show(error.received)}`, expected: error.expected, received: error.received };
  }
  return { field: '', message: `could not be applied: ${(error as Error)?.message ?? String(error)}` };
}

/** The default report of a rejected whole document: every issue, code `ERR_INVALID_RULES`. */
export function rejectedDocument(place: DocumentPlace, issues: readonly DocumentIssue[]): TrellisError {
  return RuleDocumentError.rejected(describePlace(place), issues);
}

/** `"breaker" document of default/shop.Checkout from the etcd registry`: how every rule document is named. */
export function describePlace(place: DocumentPlace): string {
  return `"${place.document}" document of ${place.service.group}/${place.service.name} from the ${place.registry} registry`;
}
