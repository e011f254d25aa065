import { Code } from '@trellis/core';
import type { CallRecord } from './traffic.js';
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
  /**
   * From the fault until calls ran clean again: the end of the fault's run of troubled calls (failed
   * or retried), which ends at the first full second in which no call sent was troubled. Unlike
   * `recoverMs`, a later, unrelated hiccup (a loaded machine stalling a process past an attempt
   * timeout seconds after the fault) does not count as the fault's.
   */
  readonly cleanAfterMs: number;
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
    cleanAfterMs: troubleRunAfter(troubled, faultAt) - faultAt,
    failures,
    firstFailure: records.find((r) => !r.ok)?.error,
    notes,
  };
}

/** A second with no troubled call sent ends the run of trouble a fault caused. */
const CLEAN_GAP_MS = 1000;

/** When the run of troubled calls that `faultAt` starts ends (`faultAt` itself when none is troubled). */
function troubleRunAfter(troubled: readonly CallRecord[], faultAt: number): number {
  let end = faultAt;
  // By send time; calls sent before the fault count if they ended after it.
  for (const record of [...troubled].sort((a, b) => a.at - b.at)) {
    if (record.at + record.latencyMs < faultAt) continue;
    if (record.at > end + CLEAN_GAP_MS) break;
    end = Math.max(end, record.at + record.latencyMs);
  }
  return end;
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
