import { invalidOption } from './errors.js';

export interface BackoffOptions {
  /** First delay (default 100 ms). */
  readonly initialMs?: number;
  /** Cap (default 30 s). */
  readonly maxMs?: number;
  /** Growth per failure (default 2). */
  readonly multiplier?: number;
  /** Fraction of the delay randomised, 0..1 (default 0.2 → ±20 %), so clients do not retry in lockstep. */
  readonly jitter?: number;
}

/** Every key of BackoffOptions: a misspelt one (`maxMS`) is refused where backoff settings are taken, not ignored. */
export const BACKOFF_OPTION_KEYS: readonly (keyof BackoffOptions)[] = Object.keys({
  initialMs: true, maxMs: true, multiplier: true, jitter: true,
} satisfies Record<keyof BackoffOptions, true>) as (keyof BackoffOptions)[];

/** Exponential backoff with jitter, shared by reconnects, redials and registry re-registration. */
export class ExponentialBackoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly multiplier: number;
  private readonly jitter: number;
  private attempt = 0;

  constructor(options: BackoffOptions = {}, private readonly random: () => number = Math.random) {
    this.initialMs = options.initialMs ?? 100;
    this.maxMs = options.maxMs ?? 30_000;
    this.multiplier = options.multiplier ?? 2;
    this.jitter = options.jitter ?? 0.2;
    if (!(this.initialMs > 0)) throw invalidOption('backoff.initialMs', this.initialMs, 'a positive number');
    if (!(this.maxMs >= this.initialMs)) throw invalidOption('backoff.maxMs', this.maxMs, `a number ≥ initialMs (${this.initialMs})`);
    if (!(this.multiplier >= 1)) throw invalidOption('backoff.multiplier', this.multiplier, 'a number ≥ 1');
    if (!(this.jitter >= 0 && this.jitter <= 1)) throw invalidOption('backoff.jitter', this.jitter, 'a number in 0..1');
  }

  /** The delay before the next try; grows until reset(). */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * this.multiplier ** this.attempt);
    this.attempt++;
    const spread = base * this.jitter;
    return Math.max(0, Math.round(base - spread + this.random() * 2 * spread));
  }

  get failures(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}
