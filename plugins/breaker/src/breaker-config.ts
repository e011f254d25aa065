import { resolveBreakerSettings, type BreakerSettings, type ResolvedBreakerSettings } from './breaker-options.js';
import { failurePredicate, type FailurePredicate } from './failure-codes.js';
import { readBreakerDocument } from './live-documents.js';
import type { Source } from './validate.js';

/**
 * The breaker settings in force for one client: the code's options, with the live document (if
 * any) merged over them. A document is validated completely before anything changes, so a bad one
 * leaves the previous settings in force.
 */
export class BreakerConfig {
  current: ResolvedBreakerSettings;
  isFailure: FailurePredicate;
  private readonly listeners: (() => void)[] = [];

  constructor(
    private readonly base: BreakerSettings,
    private readonly customIsFailure: FailurePredicate | undefined,
  ) {
    this.current = resolveBreakerSettings('breaker option', base);
    this.isFailure = customIsFailure ?? failurePredicate(this.current.failureCodes);
  }

  /** Applies a document's text (undefined: deleted, back to the code's settings). Throws if invalid. */
  applyDocument(source: Source, text: string | undefined): void {
    const read = text === undefined ? undefined : readBreakerDocument(source, text, this.base);
    const overlay = read?.overlay;
    const resolved = read?.resolved ?? resolveBreakerSettings(source, this.base);
    this.current = resolved;
    // A document's failureCodes win over the code's isFailure: operators can change what counts.
    this.isFailure = overlay?.failureCodes === undefined && this.customIsFailure !== undefined
      ? this.customIsFailure
      : failurePredicate(resolved.failureCodes);
    for (const listener of this.listeners) listener();
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }
}
