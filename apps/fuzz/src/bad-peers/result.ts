/** What one bad-peer target found: its figures for docs/reliability.md and any broken promise. */
export interface BadPeerResult {
  readonly attack: string;
  /** Promises broken (other callers failed, memory past its ceiling, a crash): empty when all held. */
  readonly failures: string[];
  /** Measured figures, as lines for the report. */
  readonly lines: string[];
}
