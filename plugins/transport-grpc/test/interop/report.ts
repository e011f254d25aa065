import type { Test } from 'tap';
import { INTEROP_CASES, type CaseResult } from './cases.js';

/** One assertion per interop case, so a failing cell names its case and shows the driver's error. */
export function assertCases(t: Test, direction: string, results: readonly CaseResult[]): void {
  t.same(results.map((r) => r.case), [...INTEROP_CASES], `${direction}: every case ran`);
  for (const result of results) t.ok(result.ok, `${direction}: ${result.case}`, result.ok ? {} : { diagnostic: true, error: result.error });
}
