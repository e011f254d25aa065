import { RuleSet } from '@trellis/rules';
import { resolveBreakerDocument, resolveBreakerSettings, type BreakerSettings, type ResolvedBreakerSettings } from './breaker-options.js';
import { failurePredicate, type FailurePredicate } from './failure-codes.js';

/** The breaker settings in force, with the failure predicate they imply. */
export interface BreakerState {
  readonly settings: ResolvedBreakerSettings;
  readonly isFailure: FailurePredicate;
}

/**
 * The breaker settings in force for one client: the code's options, with the live `breaker`
 * document (if any) merged over them. The document is followed by @trellis/rules, which swaps a
 * compiled state into `rules` only once the whole document passed, so a bad one leaves the previous
 * settings in force; deleting it brings the code's settings back (the RuleSet's fallback).
 */
export class BreakerConfig {
  current: ResolvedBreakerSettings;
  isFailure: FailurePredicate;
  readonly rules: RuleSet<BreakerState>;
  private readonly listeners: (() => void)[] = [];

  constructor(
    private readonly base: BreakerSettings,
    private readonly customIsFailure: FailurePredicate | undefined,
  ) {
    const settings = resolveBreakerSettings(base);
    this.rules = new RuleSet<BreakerState>({
      compiled: { settings, isFailure: customIsFailure ?? failurePredicate(settings.failureCodes) },
      version: 'options',
      origin: 'options',
      source: 'breaker options',
    });
    this.current = settings;
    this.isFailure = this.rules.compiled.isFailure;
    this.rules.onSwap(({ compiled }) => {
      this.current = compiled.settings;
      this.isFailure = compiled.isFailure;
      for (const listener of this.listeners) listener();
    });
  }

  /** A checked document over the code's settings; throws an InvalidOptionError for a bad combination. */
  compile(document: BreakerSettings): BreakerState {
    const settings = resolveBreakerDocument(this.base, document);
    // A document's failureCodes win over the code's isFailure: operators can change what counts.
    const isFailure = document.failureCodes === undefined && this.customIsFailure !== undefined
      ? this.customIsFailure
      : failurePredicate(settings.failureCodes);
    return { settings, isFailure };
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }
}
