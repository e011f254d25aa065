import type { Test as TapTest } from 'tap';
import { allCells, cellName } from '../src/cells.js';
import { shortfallFor } from '../src/expectations.js';
import { runMatrix } from '../src/matrix.js';
import { SHORT_SETTINGS, successRatio, type CellResult } from '../src/run-cell.js';
import { describeResult } from '../src/table.js';

type Test = TapTest;

/** Cells of the business fault: NOT_FOUND answers must never move traffic or trip anything. */
function checkBusinessAnswers(t: Test, result: CellResult): void {
  const { cell } = result;
  t.ok(result.notFound > 0, `p0 answered NOT_FOUND ${result.notFound} times`);
  t.ok(result.observed.circuitsOpened.length === 0, `no circuit opened (${result.observed.circuitsOpened.join('; ') || 'none'})`);
  const p0Changes = result.observed.healthChanges.filter((change) => change.startsWith('p0 '));
  t.ok(p0Changes.length === 0, `health never changed p0's state (${p0Changes.join('; ') || 'none'})`);
  const share = result.served[0]! / Math.max(1, result.served.reduce((a, b) => a + b, 0));
  const fair = 1 / cell.providers;
  if (cell.balancer === 'round-robin') {
    t.ok(Math.abs(share - fair) < 0.02, `round robin kept p0's share: ${(share * 100).toFixed(1)} % (fair ${(fair * 100).toFixed(1)} %)`);
  } else if (cell.balancer === 'random') {
    // Binomial spread of 600 draws: 4 standard deviations.
    const spread = 4 * Math.sqrt((fair * (1 - fair)) / Math.max(1, result.judged));
    t.ok(Math.abs(share - fair) < spread, `random kept p0's share: ${(share * 100).toFixed(1)} % (fair ${(fair * 100).toFixed(1)} % ± ${(spread * 100).toFixed(1)})`);
  } else {
    // LALB's split of equal providers drifts either way on its own; what business answers must not
    // do is cost p0 a penalty: its learned latency stays a latency, not a timeout.
    const latency = result.observed.lalbLatencyMs!;
    t.ok(latency.faulty < Math.max(3 * latency.others, latency.others + 5), `LALB learned p0 at ${latency.faulty.toFixed(1)} ms, the others at ${latency.others.toFixed(1)} ms (no timeout penalty)`);
  }
}

/**
 * Runs the matrix cells of `providers` providers and asserts each: ≥ 99 % of the judged idempotent
 * calls answered, unless the cell has a documented shortfall (src/expectations.ts), which is then
 * reported as a todo with its reason; business errors never move traffic.
 */
export async function checkMatrix(t: Test, providers: number): Promise<void> {
  const cells = allCells().filter((cell) => cell.providers === providers);
  const results = await runMatrix(cells, SHORT_SETTINGS, { parallel: 3 });
  for (const result of results) {
    t.test(cellName(result.cell), async (t) => {
      t.comment(describeResult(result));
      const ratio = successRatio(result);
      const shortfall = shortfallFor(result.cell);
      const message = `${(ratio * 100).toFixed(1)} % of ${result.judged} judged calls answered`;
      if (shortfall === undefined) t.ok(ratio >= 0.99, `${message} (≥ 99 %)`);
      else t.ok(ratio >= 0.99, `${message}`, { todo: `documented shortfall ${shortfall.id}: ${shortfall.reason}` });
      if (result.cell.fault === 'business') checkBusinessAnswers(t, result);
    });
  }
}

