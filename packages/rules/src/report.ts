import type { TrellisError } from '@trellis/core';

const reported = new WeakSet<Error>();

/**
 * The default `onError` of rule- and document-reading plugins: a process warning (with the error's
 * code when it has one), once per error even when several plugins share the document that caused it.
 */
export function warnRuleError(error: TrellisError | Error): void {
  if (reported.has(error)) return;
  reported.add(error);
  process.emitWarning(error.message, { code: (error as Partial<TrellisError>).code });
}
