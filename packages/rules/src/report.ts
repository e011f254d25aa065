import type { TrellisError } from '@trellis/core';

const reported = new WeakSet<Error>();

/**
 * The default `onError` of rule-reading plugins: a process warning, once per error even when several
 * plugins share the document that caused it.
 */
export function warnRuleError(error: TrellisError): void {
  if (reported.has(error)) return;
  reported.add(error);
  process.emitWarning(error.message, { code: error.code });
}
