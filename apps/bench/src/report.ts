import type { Point, Scenario } from './scenarios.js';
import { pointKey } from './scenarios.js';

export interface PointResult {
  readonly scenario: string;
  readonly point: string;
  readonly concurrency: number;
  readonly connections: number;
  readonly qps: { median: number; min: number; max: number };
  readonly p50Us: number;
  readonly p99Us: number;
  readonly clientCpu: number;
  readonly serverCpu: number;
  readonly calls: number;
  readonly errors: number;
  readonly firstError?: string;
}

export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

const fmtQps = (q: number) => (q >= 10_000 ? `${(q / 1000).toFixed(1)}k` : `${Math.round(q)}`);

export function table(scenarios: readonly Scenario[], results: readonly PointResult[]): string {
  const rows: string[][] = [['scenario', 'conc', 'QPS median', 'min–max', 'p50', 'p99', 'client CPU', 'server CPU', 'errors']];
  for (const s of scenarios) {
    for (const r of results.filter((x) => x.scenario === s.id)) {
      rows.push([
        s.label, r.point, fmtQps(r.qps.median), `${fmtQps(r.qps.min)}–${fmtQps(r.qps.max)}`,
        `${Math.round(r.p50Us)} µs`, `${Math.round(r.p99Us)} µs`, `${Math.round(r.clientCpu)} %`, `${Math.round(r.serverCpu)} %`, String(r.errors),
      ]);
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r, i) => r.map((c, j) => (j >= 2 ? c.padStart(widths[j]!) : c.padEnd(widths[j]!))).join('  ') + (i === 0 ? `\n${'-'.repeat(widths.reduce((a, b) => a + b + 2, 0))}` : '')).join('\n');
}

export interface Ratio {
  readonly name: string;
  readonly value: number;
  readonly target?: string;
  readonly met?: boolean;
}

/** The ratios the issue's targets are stated in, computed within this one run. */
export function ratios(results: readonly PointResult[]): Ratio[] {
  const get = (scenario: string, point: string) => results.find((r) => r.scenario === scenario && r.point === point);
  const out: Ratio[] = [];
  for (const point of ['1', '32', '256', '256x4']) {
    const t = get('trellis', point);
    const g = get('grpc-js', point);
    const raw = get('raw', point);
    if (t && g) out.push({ name: `Trellis / grpc-js QPS @${point}`, value: t.qps.median / g.qps.median, ...(point === '32' ? { target: '> 15', met: t.qps.median / g.qps.median > 15 } : point === '256' ? { target: '> 20', met: t.qps.median / g.qps.median > 20 } : {}) });
    if (t && raw) out.push({ name: `Trellis / raw QPS @${point}`, value: t.qps.median / raw.qps.median, ...(point === '32' || point === '256' ? { target: '≥ 0.5', met: t.qps.median / raw.qps.median >= 0.5 } : {}) });
  }
  const t1 = get('trellis', '1');
  const raw1 = get('raw', '1');
  if (t1 && raw1) out.push({ name: 'Trellis / raw p50 latency @1', value: t1.p50Us / raw1.p50Us, target: '≤ 1.3', met: t1.p50Us / raw1.p50Us <= 1.3 });
  const bare = get('trellis', '256');
  const gov = get('trellis-governance', '256');
  if (gov && bare) out.push({ name: 'governance (all traced) / bare @256', value: gov.qps.median / bare.qps.median, target: '≥ 0.75', met: gov.qps.median / bare.qps.median >= 0.75 });
  const gov1 = get('trellis-governance-1pct', '256');
  if (gov1 && bare) out.push({ name: 'governance (1 % traced) / bare @256', value: gov1.qps.median / bare.qps.median });
  return out;
}

/** A grouped bar chart of QPS by concurrency, one bar per scenario, log scale (values span 100×). */
export function svgChart(scenarios: readonly Scenario[], results: readonly PointResult[], title: string): string {
  const points = ['1', '32', '256', '256x4'];
  const colors = ['#2f6fdf', '#7aa6f0', '#a9c4f5', '#e0812f', '#5a5a5a'];
  const width = 860;
  const legendRows = Math.ceil(scenarios.length / 2);
  const height = 400 + legendRows * 18;
  const left = 70;
  const bottom = 40 + legendRows * 18;
  const top = 50;
  const plotH = height - top - bottom;
  const groupW = (width - left - 20) / points.length;
  const barW = (groupW - 30) / scenarios.length;
  const maxQ = Math.max(...results.map((r) => r.qps.median), 10);
  const minLog = 2; // 100 QPS
  const maxLog = Math.ceil(Math.log10(maxQ));
  const y = (q: number) => top + plotH - ((Math.log10(Math.max(q, 100)) - minLog) / (maxLog - minLog)) * plotH;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="100%" height="100%" fill="white"/>`);
  parts.push(`<text x="${width / 2}" y="24" text-anchor="middle" font-size="15">${escape(title)}</text>`);
  for (let e = minLog; e <= maxLog; e++) {
    const yy = y(10 ** e);
    parts.push(`<line x1="${left}" x2="${width - 20}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`);
    parts.push(`<text x="${left - 8}" y="${yy + 4}" text-anchor="end">${fmtQps(10 ** e)}</text>`);
  }
  parts.push(`<text x="16" y="${top + plotH / 2}" transform="rotate(-90 16 ${top + plotH / 2})" text-anchor="middle">QPS (log scale)</text>`);
  points.forEach((point, gi) => {
    const gx = left + gi * groupW + 15;
    scenarios.forEach((s, si) => {
      const r = results.find((x) => x.scenario === s.id && x.point === point);
      if (!r) return;
      const x = gx + si * barW;
      const yy = y(r.qps.median);
      parts.push(`<rect x="${x}" y="${yy}" width="${barW - 4}" height="${top + plotH - yy}" fill="${colors[si % colors.length]}"><title>${escape(s.label)} @${point}: ${Math.round(r.qps.median)} QPS</title></rect>`);
      parts.push(`<text x="${x + (barW - 4) / 2}" y="${yy - 4}" text-anchor="middle" font-size="10">${fmtQps(r.qps.median)}</text>`);
    });
    parts.push(`<text x="${gx + (groupW - 30) / 2}" y="${top + plotH + 18}" text-anchor="middle">${point === '256x4' ? 'conc 256, 4 conns' : `conc ${point}, 1 conn`}</text>`);
  });
  scenarios.forEach((s, si) => {
    // Two legend entries per row: the labels are long.
    const lx = left + (si % 2) * 380;
    const ly = height - legendRows * 18 + Math.floor(si / 2) * 18 - 4;
    parts.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${colors[si % colors.length]}"/>`);
    parts.push(`<text x="${lx + 16}" y="${ly}">${escape(s.label)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
}

export type { Point };
export { pointKey };
