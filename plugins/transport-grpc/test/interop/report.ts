import type { Test } from 'tap';
import { within } from '../fixtures/engine.js';
import { CASE_TIMEOUT_MS, INTEROP_CASES, type CaseResult, type InteropCase } from './cases.js';

/** Runs every case in order, each isolated: a failure is reported, the next case still runs. */
export async function runCases(cases: Record<InteropCase, () => Promise<void>>): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const name of INTEROP_CASES) {
    try {
      await within(cases[name](), CASE_TIMEOUT_MS, name);
      results.push({ case: name, ok: true });
    } catch (error) {
      results.push({ case: name, ok: false, error: (error as Error).stack ?? String(error) });
    }
  }
  return results;
}

/** One assertion per interop case, so a failing cell names its case and shows the driver's error. */
export function assertCases(t: Test, direction: string, results: readonly CaseResult[]): void {
  t.same(results.map((r) => r.case), [...INTEROP_CASES], `${direction}: every case ran`);
  for (const result of results) t.ok(result.ok, `${direction}: ${result.case}`, result.ok ? {} : { diagnostic: true, error: result.error });
}
