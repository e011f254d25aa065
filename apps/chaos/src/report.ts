import { Code } from '@trellis/core';
import type { CallRecord } from './traffic.js';
import { answeredLate, type FailedSend } from './send-log.js';
import { percentileOfSorted } from '@trellis/core/toolkit';

export interface ScenarioSummary {
  readonly scenario: string;
  readonly sent: number;
  readonly succeeded: number;
  readonly failed: number;
  /** Calls answered by a second or later attempt. */
  readonly retried: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** From the fault until the last call that failed or needed a retry (0 if none did). */
  readonly recoverMs: number;
  /** What the fault did to the calls, when they were driven with a send log (`faultHits`). */
  readonly hits?: FaultHits;
  readonly failures: Record<string, number>;
  readonly firstFailure?: string;
  readonly notes: string[];
}

export function summarize(scenario: string, records: readonly CallRecord[], faultAt: number, notes: string[] = []): ScenarioSummary {
  const latencies = Float64Array.from(records.filter((r) => r.ok), (r) => r.latencyMs).sort();
  const pct = (p: number) => (latencies.length === 0 ? 0 : percentileOfSorted(latencies, p));
  const troubled = records.filter((r) => !r.ok || r.attempt > 1);
  const lastTrouble = troubled.length ? Math.max(...troubled.map((r) => r.at + r.latencyMs)) : faultAt;
  const failures: Record<string, number> = {};
  for (const r of records) if (!r.ok) failures[Code[r.code] ?? String(r.code)] = (failures[Code[r.code] ?? String(r.code)] ?? 0) + 1;
  return {
    scenario,
    sent: records.length,
    succeeded: records.filter((r) => r.ok).length,
    failed: records.filter((r) => !r.ok).length,
    retried: records.filter((r) => r.ok && r.attempt > 1).length,
    p50Ms: pct(50),
    p99Ms: pct(99),
    maxMs: latencies.at(-1) ?? 0,
    recoverMs: Math.max(0, lastTrouble - faultAt),
    failures,
    firstFailure: records.find((r) => !r.ok)?.error,
    notes,
  };
}

/** What a fault did to the calls, told apart from what a slow machine did to them. */
export interface FaultHits {
  /**
   * Calls the fault hit: a send of theirs failed at or after the fault for any reason but a late
   * answer (`answeredLate`) — a dropped connection, a send that never ran, a refused dial — or the
   * call itself failed so (a refusal before any send).
   */
  readonly calls: number;
  /** Of those, the calls in flight at the fault (sent before it). */
  readonly inFlight: number;
  /** From the fault to the last failure it caused (0 if none): after it, no call was hit. */
  readonly untilMs: number;
  /** The distinct messages of the failures it caused (at most 5). */
  readonly causes: readonly string[];
  /** Calls after the fault whose only failed sends answered late (an attempt timeout): a slow process, not a gone one. */
  readonly lateOnly: number;
  /** From the fault to the last of those late answers (0 if none). */
  readonly lateUntilMs: number;
}

/**
 * The calls a fault hit, from each call's failed sends (`CallRecord.failedSends`: traffic driven
 * with a `SendLog`). Exact where a run of troubled calls is a guess: a call the fault never touched
 * that a loaded machine slowed past an attempt timeout seconds later is not counted as the fault's,
 * while a dead peer's connections still being picked, or calls failing on a circuit left open, are.
 */
export function faultHits(records: readonly CallRecord[], faultAt: number): FaultHits {
  let calls = 0, inFlight = 0, lastHit = faultAt, lateOnly = 0, lastLate = faultAt;
  const causes = new Set<string>();
  for (const record of records) {
    const failures: FailedSend[] = [...(record.failedSends ?? [])];
    if (!record.ok) failures.push({ at: record.at + record.latencyMs, code: record.code, mayHaveRun: record.mayHaveRun ?? true, message: record.error ?? '' });
    const since = failures.filter((f) => f.at >= faultAt);
    const hit = since.filter((f) => !answeredLate(f));
    if (hit.length > 0) {
      calls++;
      if (record.at < faultAt) inFlight++;
      lastHit = Math.max(lastHit, ...hit.map((f) => f.at));
      for (const f of hit) if (causes.size < 5) causes.add(f.message);
    } else if (since.length > 0) {
      lateOnly++;
      lastLate = Math.max(lastLate, ...since.map((f) => f.at));
    }
  }
  return { calls, inFlight, untilMs: lastHit - faultAt, causes: [...causes], lateOnly, lateUntilMs: lastLate - faultAt };
}

export function table(summaries: readonly ScenarioSummary[]): string {
  const rows = [['scenario', 'sent', 'succeeded', 'failed', 'retried', 'p50', 'p99', 'max', 'time to recover']];
  for (const s of summaries) {
    rows.push([s.scenario, String(s.sent), String(s.succeeded), String(s.failed), String(s.retried),
      `${s.p50Ms.toFixed(1)} ms`, `${s.p99Ms.toFixed(1)} ms`, `${s.maxMs.toFixed(0)} ms`, `${(s.recoverMs / 1000).toFixed(2)} s`]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
  lines.splice(1, 0, '-'.repeat(lines[0]!.length));
  for (const s of summaries) {
    if (s.failed > 0) lines.push(`  ${s.scenario}: failures ${JSON.stringify(s.failures)}; first: ${s.firstFailure}`);
    for (const note of s.notes) lines.push(`  ${s.scenario}: ${note}`);
  }
  return lines.join('\n');
}
