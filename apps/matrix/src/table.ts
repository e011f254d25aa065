import { BALANCERS, describeWarmup, FAULT_LABELS, FAULTS, PLUGIN_SETS, PROVIDER_COUNTS, WARMUP, type Cell } from './cells.js';
import { SHORTFALLS, shortfallFor } from './expectations.js';
import { successRatio, type CellResult, type MatrixSettings } from './run-cell.js';

const BAR = 0.99;

function key(cell: Cell): string {
  return `${cell.providers}|${cell.fault}|${cell.plugins}|${cell.balancer}`;
}

function percent(ratio: number): string {
  if (ratio === 1) return '100';
  return (Math.floor(ratio * 1000) / 10).toFixed(1);
}

/** One cell as the table shows it: the success rate, ✗ and the reason's letter below the bar. */
function entry(result: CellResult | undefined): string {
  if (result === undefined) return '—';
  const ratio = successRatio(result);
  const shortfall = shortfallFor(result.cell);
  const text = percent(ratio);
  if (ratio >= BAR) return shortfall === undefined ? text : `${text} (${shortfall.id})`;
  return shortfall === undefined ? `**${text} ✗ unexplained**` : `${text} ✗ ${shortfall.id}`;
}

/**
 * The matrix as Markdown: per provider count, a row per plugin set and balancer and a column per
 * fault, each cell the share of judged idempotent calls that got an answer; then the reason of every
 * cell below 99 %.
 */
export function renderMatrix(results: readonly CellResult[], settings: MatrixSettings, heading: string): string {
  const byKey = new Map(results.map((r) => [key(r.cell), r]));
  const lines: string[] = [heading, ''];
  const judged = results.reduce((sum, r) => sum + r.judged, 0);
  const stalled = results.reduce((sum, r) => sum + r.stalled, 0);
  lines.push(
    `${results.length} cells, ${settings.judgedCalls} judged calls each (${judged} in all), ${settings.concurrency} callers, ` +
      `${settings.timeoutMs} ms deadline, providers answering in ${settings.latencyMs} ms. Each entry is the % of judged calls that got ` +
      `an answer (NOT_FOUND counts as one). Warm-up per fault: ${FAULTS.map((f) => `${FAULT_LABELS[f]} ${describeWarmup(WARMUP[f])}`).join('; ')}. ` +
      `Calls left out as harness stalls: ${stalled}.`,
    '',
  );
  for (const providers of PROVIDER_COUNTS) {
    if (!results.some((r) => r.cell.providers === providers)) continue;
    lines.push(`**${providers} providers** (one faulty)`, '');
    lines.push(`| plugins | balancer | ${FAULTS.map((f) => FAULT_LABELS[f]).join(' | ')} |`);
    lines.push(`|---|---|${FAULTS.map(() => '---:').join('|')}|`);
    for (const plugins of PLUGIN_SETS) {
      for (const balancer of BALANCERS) {
        const cells = FAULTS.map((fault) => entry(byKey.get(key({ providers, fault, plugins, balancer }))));
        lines.push(`| ${plugins} | ${balancer} | ${cells.join(' | ')} |`);
      }
    }
    lines.push('');
  }
  const used = new Set(results.filter((r) => successRatio(r) < BAR).map((r) => shortfallFor(r.cell)?.id).filter((id) => id !== undefined));
  const listed = SHORTFALLS.filter((s) => used.has(s.id) || results.some((r) => shortfallFor(r.cell) === s));
  if (listed.length > 0) {
    lines.push('Why a cell is below 99 % (a letter next to a passing entry: the reason applies, the run met the bar anyway):', '');
    for (const shortfall of listed) lines.push(`- **${shortfall.id}** — ${shortfall.reason}`);
    lines.push('');
  }
  return lines.join('\n');
}

/** One line per cell, for logs and the test's comments. */
export function describeResult(result: CellResult): string {
  const { cell } = result;
  const failures = Object.entries(result.failures).map(([code, n]) => `${code} ${n}`).join(', ');
  return `${cell.balancer} + ${cell.plugins} / ${cell.fault} / ${cell.providers}: ${percent(successRatio(result))} % of ${result.judged}` +
    ` (served ${result.served.join('/')}${result.notFound > 0 ? `, ${result.notFound} NOT_FOUND` : ''}${failures ? `; failed: ${failures}` : ''}` +
    `${result.stalled > 0 ? `; ${result.stalled} stalled` : ''}; warm-up ${result.warmup.calls} calls, ${result.warmup.failed} failed; ${result.durationMs.toFixed(0)} ms)`;
}
