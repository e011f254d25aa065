import { describeValue, InvalidOptionError, show } from '@trellis/core/toolkit';
import { readWholeDocument, type DocumentIssue, type DocumentPlace, type DocumentSpec } from '@trellis/rules';
import { BREAKER_SETTINGS_SCHEMA, resolveBreakerDocument, type BreakerSettings, type ResolvedBreakerSettings } from './breaker-options.js';
import { checkLimitsOverlay, LIMITS_DOCUMENT_SCHEMA, type ServiceLimitOverlay } from './limiter-options.js';

/**
 * The two documents this package owns, declared to @trellis/rules (which reads, checks, watches and
 * swaps them, and lets the admin console and the `trellis` CLI validate them exactly as the plugins
 * do): the `breaker` settings a service's consumers follow, and the `limits` its providers follow.
 */

/** The live document `breaker()` follows by default: `/trellis/config/{group}/{service}/breaker`. */
export const BREAKER_DOCUMENT = 'breaker';
/** The live document `limiter()` follows by default: `/trellis/config/{group}/{service}/limits`. */
export const LIMITS_DOCUMENT = 'limits';

/**
 * A bad setting in the words of a bad option (`… "errorRatio" is 7; expected a number in (0, 1]`),
 * the first problem found: `ERR_INVALID_OPTION`, with the setting's path, what was expected and
 * what was given. `label` names the document: `breaker document /trellis/config/default/x/breaker:`.
 */
function settingsError(label: string, issues: readonly DocumentIssue[], suffix = ''): InvalidOptionError {
  const issue = issues[0] ?? { field: '', message: 'is invalid' };
  let message: string;
  if (issue.expected === undefined) message = issue.field === '' ? `${label} ${issue.message}` : `${label} "${issue.field}": ${issue.message}`;
  else if (issue.field === '') message = `${label} is ${show(issue.received)}; expected ${issue.expected}`;
  else message = `${label} "${issue.field}" is ${describeValue(issue.received)}; expected ${issue.expected}`;
  return new InvalidOptionError(`${message}${suffix}`, issue.field, issue.expected ?? issue.message, issue.received);
}

function rejected(place: DocumentPlace, issues: readonly DocumentIssue[]): InvalidOptionError {
  return settingsError(`${place.document} document ${place.path}:`, issues, '; the previous settings stay in force');
}

/** The `breaker` document: BREAKER_SETTINGS_SCHEMA; each client resolves it over its code's settings. */
export const BREAKER_DOCUMENT_SPEC: DocumentSpec<BreakerSettings> = {
  document: BREAKER_DOCUMENT,
  side: 'client',
  schema: BREAKER_SETTINGS_SCHEMA,
  rejected,
};

/** The `limits` document: one service rule (LIMITS_DOCUMENT_SCHEMA) in which `null` removes what the code set. */
export const LIMITS_DOCUMENT_SPEC: DocumentSpec<ServiceLimitOverlay> = {
  document: LIMITS_DOCUMENT,
  side: 'server',
  schema: LIMITS_DOCUMENT_SCHEMA,
  check: checkLimitsOverlay,
  rejected,
};

/**
 * Reads a `breaker` document exactly as a client applies it, resolved over `base` (the code's
 * settings; none by default) so that combinations such as coolDownMs > maxCoolDownMs are caught too.
 * Throws ERR_INVALID_OPTION naming the setting, after `source` (`breaker document <where>:`). For
 * tools (the `trellis` CLI); the plugin itself follows the document through @trellis/rules.
 */
export function readBreakerDocument(
  source: string,
  text: string,
  base: BreakerSettings = {},
): { readonly overlay: BreakerSettings; readonly resolved: ResolvedBreakerSettings } {
  const outcome = readWholeDocument(BREAKER_DOCUMENT_SPEC, text, (overlay) => ({ overlay, resolved: resolveBreakerDocument(base, overlay) }));
  if (!outcome.ok) throw settingsError(source, outcome.issues);
  return outcome.value.compiled;
}

/** Reads a `limits` document exactly as a server applies it; throws ERR_INVALID_OPTION naming the setting. */
export function readLimitsDocument(source: string, text: string): ServiceLimitOverlay {
  const outcome = readWholeDocument(LIMITS_DOCUMENT_SPEC, text);
  if (!outcome.ok) throw settingsError(source, outcome.issues);
  return outcome.value.value;
}
