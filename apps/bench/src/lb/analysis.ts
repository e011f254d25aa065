/**
 * What the LALB timeline shows, in numbers: how long after each event (service times reversed,
 * provider frozen, provider resumed) the traffic shares crossed a threshold. Shares are over calls
 * *started* in a sliding window (the balancer's decisions), evaluated at every bin edge.
 */
import { Code } from '@trellis/core';
import { bin, type Bins, type CallLog } from './call-log.js';

export interface SharePoint {
  /** End of the window, ms after the event. */
  readonly atMs: number;
  readonly calls: number;
  readonly share: readonly number[];
}

/** Sliding-window shares: windows of `windowMs` ending at every bin edge from the event on. */
export function shareSeries(bins: Bins, windowMs: number): SharePoint[] {
  const perWindow = Math.max(1, Math.round(windowMs / bins.binMs));
  const providers = bins.started[0]?.length ?? 0;
  const sums = new Array<number>(providers).fill(0);
  const out: SharePoint[] = [];
  for (let b = 0; b < bins.started.length; b++) {
    for (let p = 0; p < providers; p++) sums[p]! += bins.started[b]![p]!;
    if (b >= perWindow) for (let p = 0; p < providers; p++) sums[p]! -= bins.started[b - perWindow]![p]!;
    if (b + 1 < perWindow) continue;
    const calls = sums.reduce((a, c) => a + c, 0);
    out.push({ atMs: (b + 1) * bins.binMs, calls, share: sums.map((c) => (calls === 0 ? 0 : c / calls)) });
  }
  return out;
}

/** The first window (end time) where the condition holds; null if none. */
export function firstWhen(series: readonly SharePoint[], holds: (point: SharePoint) => boolean): number | null {
  return series.find(holds)?.atMs ?? null;
}

/** The first window from which the condition holds until the end of the series; null if it ends false. */
export function heldFrom(series: readonly SharePoint[], holds: (point: SharePoint) => boolean): number | null {
  let from: number | null = null;
  for (const point of series) {
    if (!holds(point)) from = null;
    else from ??= point.atMs;
  }
  return from;
}

/** Shares of calls started in [from, to). */
export function sharesBetween(log: CallLog, providers: number, from: number, to: number): { calls: number; share: number[] } {
  const b = bin(log, providers, from, to, Math.max(1, to - from));
  const counts = b.started[0]!;
  const calls = counts.reduce((a, c) => a + c, 0);
  return { calls, share: counts.map((c) => (calls === 0 ? 0 : c / calls)) };
}

export interface ReverseResult {
  /** The provider that became the fastest. */
  readonly fastest: string;
  /** First 100 ms window in which it got more than half the calls. */
  readonly majorityAfterMs: number | null;
  /** From when on it kept more than half in every 100 ms window until the phase ended. */
  readonly heldMajorityFromMs: number | null;
  /** Shares over the last quarter of the phase: where LALB settled. */
  readonly settledShare: Record<string, number>;
}

export interface FreezeResult {
  readonly frozen: string;
  /** Its share over the second before the freeze. */
  readonly shareBefore: number;
  /** First 20 ms window in which it got less than 10 % / 1 % of the calls. */
  readonly below10PctAfterMs: number | null;
  readonly below1PctAfterMs: number | null;
  /** Calls sent to it while it was frozen, and their share of all calls then. */
  readonly sentWhileFrozen: number;
  readonly shareWhileFrozen: number;
  /** Its calls that hit the per-call timeout (DEADLINE_EXCEEDED), in all. */
  readonly timedOut: number;
  /**
   * Of those, the calls caught by the freeze: in flight on it, or sent to it within 10 ms after
   * (replies already on their way when SIGSTOP landed free their callers, who pick it again: LALB
   * cannot know yet). Their callers wait for the timeout.
   */
  readonly caughtByFreeze: number;
  /** How long after the freeze the first call went to another provider (a caller must be free to pick). */
  readonly firstElsewhereAfterMs: number | null;
  /** Failed calls on the other providers, or before any provider was picked (should be 0). */
  readonly otherFailures: number;
  readonly qpsBefore: number;
  readonly qpsWhileFrozen: number;
}

export interface ResumeResult {
  readonly resumed: string;
  /** Start of the first call it answered after SIGCONT (a probe, or a call its weight won). */
  readonly firstSuccessAfterMs: number | null;
  /** First 250 ms window in which it got more than 10 % / half its share before the freeze / more than half the calls. */
  readonly above10PctAfterMs: number | null;
  readonly halfOldShareAfterMs: number | null;
  readonly majorityAfterMs: number | null;
  readonly shareAtEnd: Record<string, number>;
}

const byName = (names: readonly string[], share: readonly number[]): Record<string, number> =>
  Object.fromEntries(names.map((n, i) => [n, share[i] ?? 0]));

export function analyseReverse(log: CallLog, names: readonly string[], fastest: number, from: number, to: number): ReverseResult {
  const series = shareSeries(bin(log, names.length, from, to, 10), 100);
  const enough = (p: SharePoint) => p.calls >= 10;
  const majority = (p: SharePoint) => enough(p) && p.share[fastest]! > 0.5;
  return {
    fastest: names[fastest]!,
    majorityAfterMs: firstWhen(series, majority),
    heldMajorityFromMs: heldFrom(series, majority),
    settledShare: byName(names, sharesBetween(log, names.length, to - (to - from) / 4, to).share),
  };
}

export function analyseFreeze(log: CallLog, names: readonly string[], frozen: number, from: number, to: number, runFrom: number, qpsOf: (a: number, b: number) => number): FreezeResult {
  const series = shareSeries(bin(log, names.length, from, to, 5), 20);
  const enough = (p: SharePoint) => p.calls >= 5;
  const during = sharesBetween(log, names.length, from, to);
  let timedOut = 0;
  let caughtByFreeze = 0;
  let otherFailures = 0;
  let firstElsewhere = Number.POSITIVE_INFINITY;
  for (let i = 0; i < log.size; i++) {
    const s = log.start[i]!;
    if (s >= from && s < firstElsewhere && log.provider[i] !== frozen && log.provider[i]! >= 0) firstElsewhere = s;
    if (log.code[i] === 0 || s < runFrom) continue;
    if (log.provider[i] === frozen && log.code[i] === Code.DEADLINE_EXCEEDED) {
      timedOut++;
      if (s < from + 10) caughtByFreeze++;
    } else otherFailures++;
  }
  return {
    frozen: names[frozen]!,
    shareBefore: sharesBetween(log, names.length, from - 1000, from).share[frozen]!,
    below10PctAfterMs: firstWhen(series, (p) => enough(p) && p.share[frozen]! < 0.1),
    below1PctAfterMs: firstWhen(series, (p) => enough(p) && p.share[frozen]! < 0.01),
    sentWhileFrozen: Math.round(during.share[frozen]! * during.calls),
    shareWhileFrozen: during.share[frozen]!,
    timedOut,
    caughtByFreeze,
    firstElsewhereAfterMs: Number.isFinite(firstElsewhere) && firstElsewhere < to ? firstElsewhere - from : null,
    otherFailures,
    qpsBefore: qpsOf(from - 1000, from),
    qpsWhileFrozen: qpsOf(from, to),
  };
}

export function analyseResume(log: CallLog, names: readonly string[], resumed: number, shareBefore: number, from: number, to: number): ResumeResult {
  const series = shareSeries(bin(log, names.length, from, to, 50), 250);
  const enough = (p: SharePoint) => p.calls >= 10;
  let firstSuccess = Number.POSITIVE_INFINITY;
  for (let i = 0; i < log.size; i++) {
    const s = log.start[i]!;
    if (s >= from && s < to && log.provider[i] === resumed && log.code[i] === 0 && s < firstSuccess) firstSuccess = s;
  }
  return {
    resumed: names[resumed]!,
    firstSuccessAfterMs: Number.isFinite(firstSuccess) ? firstSuccess - from : null,
    above10PctAfterMs: firstWhen(series, (p) => enough(p) && p.share[resumed]! > 0.1),
    halfOldShareAfterMs: firstWhen(series, (p) => enough(p) && p.share[resumed]! >= shareBefore / 2),
    majorityAfterMs: firstWhen(series, (p) => enough(p) && p.share[resumed]! > 0.5),
    shareAtEnd: byName(names, sharesBetween(log, names.length, to - Math.min(2000, (to - from) / 2), to).share),
  };
}
