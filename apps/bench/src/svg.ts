/**
 * The SVG building blocks every chart of apps/bench uses (bench-results/*.svg): the document, escaping,
 * number formats, axes, lines and stacked share areas — one copy, so the charts look alike.
 */

export const COLORS = ['#2f6fdf', '#e0812f', '#3a9d5d', '#9b59b6'];

export function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export const fmtQps = (q: number): string => (q >= 10_000 ? `${(q / 1000).toFixed(1)}k` : `${Math.round(q)}`);
export const fmtMs = (ms: number): string =>
  ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
/** A coordinate rounded to 0.1, as text: keeps the files small and diffs readable. */
export const r = (v: number): string => (Math.round(v * 10) / 10).toString();

/** The smallest 1 / 2 / 2.5 / 5 × 10^n at or above `v`: an axis maximum a reader can read. */
export function niceMax(v: number): number {
  const e = 10 ** Math.floor(Math.log10(Math.max(v, 1e-9)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * e >= v) return m * e;
  return 10 * e;
}

/** A whole chart: a white page of `width` × `height` around the parts. */
export function svgDocument(width: number, height: number, parts: readonly string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...parts,
    '</svg>',
  ].join('\n');
}

export interface Box {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

/**
 * Stacked shares as one step-shaped area per provider (provider 0 at the bottom), over bins
 * [x0 + i × bw, x0 + (i+1) × bw). Bins without calls stay blank rather than pretending 0 %.
 */
export function stackedShares(box: Box, counts: readonly (readonly number[])[], colors: readonly string[]): string {
  const providers = counts[0]?.length ?? 0;
  const bw = box.w / Math.max(1, counts.length);
  const y = (fraction: number) => box.y + box.h * (1 - fraction);
  const out: string[] = [];
  for (let p = 0; p < providers; p++) {
    let d = '';
    let segment: { x: number; lo: number; hi: number }[] = [];
    const flush = () => {
      if (segment.length === 0) return;
      const upper = segment.map((s, i) => `${i === 0 ? 'M' : 'L'}${r(s.x)},${r(y(s.hi))}H${r(s.x + bw)}`).join('');
      const lower = [...segment].reverse().map((s) => `L${r(s.x + bw)},${r(y(s.lo))}H${r(s.x)}`).join('');
      d += `${upper}${lower}Z`;
      segment = [];
    };
    counts.forEach((row, i) => {
      const total = row.reduce((a, c) => a + c, 0);
      if (total === 0) return flush();
      let below = 0;
      for (let q = 0; q < p; q++) below += row[q]!;
      segment.push({ x: box.x + i * bw, lo: below / total, hi: (below + row[p]!) / total });
    });
    flush();
    if (d) out.push(`<path d="${d}" fill="${colors[p % colors.length]}" fill-opacity="0.85" shape-rendering="crispEdges"/>`);
  }
  return out.join('\n');
}

/** Horizontal grid lines and left-axis labels for a 0–100 % share axis. */
export function shareAxis(box: Box): string {
  const out: string[] = [];
  for (const f of [0, 0.25, 0.5, 0.75, 1]) {
    const yy = box.y + box.h * (1 - f);
    out.push(`<line x1="${box.x}" x2="${box.x + box.w}" y1="${r(yy)}" y2="${r(yy)}" stroke="#000" stroke-opacity="${f === 0 ? 0.6 : 0.12}"/>`);
    out.push(`<text x="${box.x - 5}" y="${r(yy + 4)}" text-anchor="end" font-size="10">${f * 100}%</text>`);
  }
  return out.join('\n');
}

/** Tick labels in seconds along the bottom of `box`, for a time range [from, to] in ms. */
export function timeAxis(box: Box, from: number, to: number, stepMs: number, label = (ms: number) => `${r(ms / 1000)} s`): string {
  const out: string[] = [];
  const first = Math.ceil(from / stepMs) * stepMs;
  for (let t = first; t <= to + 1e-6; t += stepMs) {
    const xx = box.x + ((t - from) / (to - from)) * box.w;
    out.push(`<line x1="${r(xx)}" x2="${r(xx)}" y1="${box.y + box.h}" y2="${box.y + box.h + 4}" stroke="#444"/>`);
    out.push(`<text x="${r(xx)}" y="${box.y + box.h + 15}" text-anchor="middle" font-size="10">${label(t)}</text>`);
  }
  return out.join('\n');
}

/** A polyline through the points that are numbers; undefined values break the line. */
export function line(points: readonly (readonly [number, number] | undefined)[], style: string): string {
  let d = '';
  let pen = false;
  for (const p of points) {
    if (p === undefined) {
      pen = false;
      continue;
    }
    d += `${pen ? 'L' : 'M'}${r(p[0])},${r(p[1])}`;
    pen = true;
  }
  return d ? `<path d="${d}" fill="none" ${style}/>` : '';
}
