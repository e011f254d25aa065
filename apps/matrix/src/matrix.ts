import type { Cell } from './cells.js';
import { runCell, type CellResult, type MatrixSettings } from './run-cell.js';

/**
 * Runs cells a few at a time in this process. A cell mostly waits (on latencies, timeouts and the
 * warm-up), so running several at once cuts the wall time; the calls of one cell still only meet
 * its own providers. Results come back in the order of `cells`.
 */
export async function runMatrix(
  cells: readonly Cell[],
  settings: MatrixSettings,
  options: { parallel: number; onResult?: (result: CellResult) => void },
): Promise<CellResult[]> {
  const results: CellResult[] = new Array(cells.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < cells.length) {
      const index = next++;
      const result = await runCell(cells[index]!, settings);
      results[index] = result;
      options.onResult?.(result);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.parallel) }, lane));
  return results;
}
