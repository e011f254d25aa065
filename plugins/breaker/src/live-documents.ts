import {
  mergeBreakerSettings, resolveBreakerSettings, validateBreakerSettings, type BreakerSettings, type ResolvedBreakerSettings,
} from './breaker-options.js';
import { validateLimitsOverlay, type ServiceLimitOverlay } from './limiter-options.js';
import { parseJson, type Source } from './validate.js';

/** The live document `breaker()` watches by default: `/trellis/config/{group}/{service}/breaker`. */
export const BREAKER_DOCUMENT = 'breaker';
/** The live document `limiter()` watches by default: `/trellis/config/{group}/{service}/limits`. */
export const LIMITS_DOCUMENT = 'limits';

/**
 * Reads a live `breaker` document exactly as a client applies it: JSON, known settings only, each
 * value checked, then resolved over `base` (the code's settings; none by default) so combinations
 * such as coolDownMs > maxCoolDownMs are caught too. Throws ERR_INVALID_OPTION naming the setting.
 * Exported so tools (the `trellis` CLI, the admin console) validate with the plugin's own rules.
 */
export function readBreakerDocument(
  source: Source,
  text: string,
  base: BreakerSettings = {},
): { readonly overlay: BreakerSettings; readonly resolved: ResolvedBreakerSettings } {
  const overlay = validateBreakerSettings(source, parseJson(source, text));
  return { overlay, resolved: resolveBreakerSettings(source, mergeBreakerSettings(base, overlay)) };
}

/**
 * Reads a live `limits` document exactly as a server applies it: JSON, one service rule in which
 * `null` removes what the code set. Throws ERR_INVALID_OPTION naming the setting.
 */
export function readLimitsDocument(source: Source, text: string): ServiceLimitOverlay {
  return validateLimitsOverlay(source, parseJson(source, text));
}
