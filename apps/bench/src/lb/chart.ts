/**
 * bench-results/lb.svg: what a reader wants to see at a glance.
 *  1. Traffic share per provider over the whole run (calls started per 250 ms), with each balancer's
 *     runs (1/2/3 ms, then equal) and the events marked, and QPS / mean latency on the same time axis.
 *     Under that, what LALB and P2C believed: each provider's latency estimate from their snapshot().
 *  2. Close-ups of the three events for LALB and for P2C at a finer bin, with the measured reaction
 *     times marked (and the model's, for comparison).
 *  3. The model: the 1/2/3 ms run of LALB, brpc's exact LALB and P2C on a virtual clock.
 *  4. The steady-state comparison of the four balancers in both scenarios: QPS, mean and p99, shares.
 */
import type { Bins } from './call-log.js';
import type { BalancerName } from './load.js';
import type { BalancerView, Phase, PhaseKind } from './scenario.js';
import { COLORS, esc, fmtMs, fmtQps, line, niceMax, shareAxis, stackedShares, svgDocument, timeAxis, type Box } from '../svg.js';

export interface Zoom {
  readonly title: string;
  /** Event time on the timeline; the close-up's axis is relative to it. */
  readonly at: number;
  readonly bins: Bins;
  /** Measured reaction times, ms after the event. */
  readonly marks: readonly { atMs: number | null; label: string; model?: boolean }[];
}

export interface SteadyRow {
  readonly scenario: 'unequal' | 'equal';
  readonly balancer: string;
  readonly qps: number;
  readonly meanUs: number;
  readonly p99Us: number;
  readonly share: readonly number[];
}

export interface ModelStrip {
  readonly label: string;
  readonly timeline: Bins;
  readonly phases: readonly { kind: PhaseKind; from: number; to: number }[];
  readonly frozen: string;
}

export interface ChartInput {
  readonly title: string;
  readonly subtitle: string;
  readonly names: readonly string[];
  /** Legend text per provider, e.g. "A: 1 ms → 3 ms; equal: 2 ms". */
  readonly legend: readonly string[];
  readonly timeline: Bins;
  readonly phases: readonly Phase[];
  /** The provider frozen in each balancer's 1/2/3 ms run. */
  readonly frozenByRun: Readonly<Record<string, string>>;
  /** One row of close-ups per balancer shown. */
  readonly zooms: readonly (readonly Zoom[])[];
  /** The adaptive balancers' snapshot() over their runs. */
  readonly views: readonly (BalancerView & { balancer: BalancerName })[];
  readonly models: readonly ModelStrip[];
  readonly steady: readonly SteadyRow[];
  readonly verdict: readonly string[];
}

const WIDTH = 1000;
const LEFT = 60;
const RIGHT = 60;

const LABELS: Record<string, string> = { 'round-robin': 'rr', random: 'random', lalb: 'LALB', p2c: 'P2C' };

export function lbChart(input: ChartInput): string {
  const parts: string[] = [];
  const plotW = WIDTH - LEFT - RIGHT;
  const tl = input.timeline;
  const end = tl.from + tl.started.length * tl.binMs;
  const x = (t: number) => LEFT + ((t - tl.from) / (end - tl.from)) * plotW;
  let y = 20;
  parts.push(`<text x="${WIDTH / 2}" y="${y}" text-anchor="middle" font-size="16" font-weight="bold">${esc(input.title)}</text>`);
  parts.push(`<text x="${WIDTH / 2}" y="${y + 18}" text-anchor="middle" font-size="11" fill="#555">${esc(input.subtitle)}</text>`);
  y += 34;
  input.legend.forEach((text, i) => {
    const lx = LEFT + i * 290;
    parts.push(`<rect x="${lx}" y="${y}" width="12" height="12" fill="${COLORS[i]}"/><text x="${lx + 17}" y="${y + 10}" font-size="11">${esc(text)}</text>`);
  });
  y += 24;

  // 1. Share over the whole run, runs and events marked.
  const share: Box = { x: LEFT, y: y + 30, w: plotW, h: 200 };
  parts.push(`<text x="${LEFT}" y="${y}" font-size="12" font-weight="bold">Traffic share per provider (calls sent, per ${tl.binMs} ms): each balancer with 1/2/3 ms, then each with equal 2 ms</text>`);
  const runs = new Map<string, Phase[]>();
  for (const p of input.phases) runs.set(`${p.scenario}/${p.balancer}`, [...(runs.get(`${p.scenario}/${p.balancer}`) ?? []), p]);
  for (const [key, phases] of runs) {
    const from = phases[0]!.from;
    const to = phases[phases.length - 1]!.to;
    const [scenario, balancer] = key.split('/') as [string, string];
    parts.push(`<text x="${(x(from) + x(to)) / 2}" y="${share.y - (scenario === 'equal' ? 4 : 16)}" text-anchor="middle" font-size="10" font-weight="bold">${esc(LABELS[balancer] ?? balancer)}${scenario === 'equal' ? ' =' : ''}</text>`);
    parts.push(`<line x1="${x(from)}" x2="${x(from)}" y1="${share.y - 14}" y2="${share.y + share.h}" stroke="#000" stroke-opacity="0.5"/>`);
  }
  parts.push(stackedShares(share, tl.started, COLORS));
  // Warm-up washed out: shown, but not part of any figure.
  for (const warm of input.phases.filter((p) => p.kind === 'warmup')) {
    parts.push(`<rect x="${x(warm.from)}" y="${share.y}" width="${Math.max(0, x(warm.to) - x(warm.from))}" height="${share.h}" fill="#fff" fill-opacity="0.55"/>`);
  }
  parts.push(shareAxis(share));
  for (const p of input.phases.filter((q) => q.kind === 'reverse' || q.kind === 'freeze' || q.kind === 'resume')) {
    const label = p.kind === 'reverse' ? 'reversed' : p.kind === 'freeze' ? `${input.frozenByRun[p.balancer]} frozen` : `${input.frozenByRun[p.balancer]} resumed`;
    const k = p.kind === 'reverse' ? 0 : p.kind === 'freeze' ? 1 : 2;
    parts.push(`<line x1="${x(p.from)}" x2="${x(p.from)}" y1="${share.y}" y2="${share.y + share.h}" stroke="#000" stroke-width="1.2" stroke-dasharray="4 3"/>`);
    parts.push(`<text x="${x(p.from) + 2}" y="${share.y + 11 + k * 12}" font-size="9" fill="#000" stroke="#fff" stroke-width="3" paint-order="stroke">${esc(label)}</text>`);
  }
  parts.push(`<text x="${LEFT + plotW}" y="${share.y + share.h + 14}" text-anchor="end" font-size="10" fill="#555">washed out: warm-up (not in the figures); "=": the equal scenario; dashed: service times reversed, a provider frozen, resumed</text>`);

  // QPS and mean latency on the same time axis.
  const perf: Box = { x: LEFT, y: share.y + share.h + 45, w: plotW, h: 90 };
  const qps = tl.completed.map((c) => (c * 1000) / tl.binMs);
  const lat = tl.completed.map((c, i) => (c === 0 ? undefined : tl.latencySum[i]! / c));
  const maxQ = niceMax(Math.max(...qps, 1));
  const maxL = niceMax(Math.max(...lat.map((v) => v ?? 0), 1));
  const py = (f: number) => perf.y + perf.h * (1 - f);
  for (const f of [0, 0.5, 1]) {
    parts.push(`<line x1="${perf.x}" x2="${perf.x + perf.w}" y1="${py(f)}" y2="${py(f)}" stroke="#000" stroke-opacity="${f === 0 ? 0.6 : 0.12}"/>`);
    parts.push(`<text x="${perf.x - 5}" y="${py(f) + 4}" text-anchor="end" font-size="10">${fmtQps(maxQ * f)}</text>`);
    parts.push(`<text x="${perf.x + perf.w + 5}" y="${py(f) + 4}" font-size="10" fill="#c0392b">${(maxL * f).toFixed(1)} ms</text>`);
  }
  const bx = (i: number) => LEFT + ((i + 0.5) / tl.started.length) * plotW;
  parts.push(line(qps.map((q, i) => (tl.completed[i] === 0 ? undefined : [bx(i), py(q / maxQ)] as const)), 'stroke="#222" stroke-width="1.2"'));
  parts.push(line(lat.map((l, i) => (l === undefined ? undefined : [bx(i), py(l / maxL)] as const)), 'stroke="#c0392b" stroke-width="1" stroke-dasharray="3 2"'));
  parts.push(timeAxis(perf, tl.from, end, end - tl.from > 100_000 ? 20_000 : end - tl.from > 40_000 ? 10_000 : end - tl.from > 8000 ? 2000 : 1000));
  parts.push(`<text x="${LEFT}" y="${perf.y - 5}" font-size="11"><tspan font-weight="bold">QPS</tspan> (solid, left) and <tspan fill="#c0392b">mean latency (dashed, right)</tspan></text>`);

  // What the adaptive balancers believed: latency estimate per provider (log scale), over their runs.
  const view: Box = { x: LEFT, y: perf.y + perf.h + 45, w: plotW, h: 80 };
  const lo = Math.log10(0.5);
  const hi = Math.log10(1000);
  const vy = (ms: number) => view.y + view.h * (1 - (Math.log10(Math.min(1000, Math.max(0.5, ms))) - lo) / (hi - lo));
  for (const v of [1, 10, 100, 1000]) {
    parts.push(`<line x1="${view.x}" x2="${view.x + view.w}" y1="${vy(v)}" y2="${vy(v)}" stroke="#000" stroke-opacity="0.12"/>`);
    parts.push(`<text x="${view.x - 5}" y="${vy(v) + 4}" text-anchor="end" font-size="10">${v} ms</text>`);
  }
  for (const balancer of ['lalb', 'p2c'] as const) {
    const views = input.views.filter((v) => v.balancer === balancer);
    input.names.forEach((_, p) => {
      // One line per run: the gap between runs breaks it.
      const points = views.map((v, i) => (i > 0 && v.atMs - views[i - 1]!.atMs > 1000 ? undefined : v.latencyMs[p]! > 0 ? [x(v.atMs), vy(v.latencyMs[p]!)] as const : undefined));
      parts.push(line(points, `stroke="${COLORS[p]}" stroke-width="1.3"${balancer === 'p2c' ? ' stroke-dasharray="3 1"' : ''}`));
    });
  }
  parts.push(`<text x="${LEFT}" y="${view.y - 5}" font-size="11"><tspan font-weight="bold">What LALB and P2C believed</tspan>: each provider's latency estimate (snapshot(), log scale): LALB its window average with errors folded in (solid), P2C its peak-EWMA (dotted)</text>`);
  y = view.y + view.h + 40;

  // 2. Close-ups, a row per balancer.
  const zw = (plotW - 2 * 30) / 3;
  for (const row of input.zooms) {
    row.forEach((zoom, i) => {
      const box: Box = { x: LEFT + i * (zw + 30), y: y + 30, w: zw, h: 120 };
      const b = zoom.bins;
      const zEnd = b.from + b.started.length * b.binMs;
      const zx = (t: number) => box.x + ((t - b.from) / (zEnd - b.from)) * box.w;
      parts.push(`<text x="${box.x}" y="${y + 8}" font-size="12" font-weight="bold">${esc(zoom.title)}</text>`);
      parts.push(`<text x="${box.x}" y="${y + 22}" font-size="10" fill="#555">per ${b.binMs} ms; time after the event</text>`);
      parts.push(stackedShares(box, b.started, COLORS));
      parts.push(shareAxis(box));
      parts.push(timeAxis(box, b.from - zoom.at, zEnd - zoom.at, pickStep(zEnd - b.from), (ms) => fmtSigned(ms)));
      parts.push(`<line x1="${zx(zoom.at)}" x2="${zx(zoom.at)}" y1="${box.y}" y2="${box.y + box.h}" stroke="#000" stroke-width="1.5" stroke-dasharray="4 3"/>`);
      zoom.marks.forEach((mark, k) => {
        const ly = box.y + box.h + 30 + k * 13;
        const text = mark.atMs === null ? `${mark.label}: not within this phase` : `${mark.label}: ${fmtMs(mark.atMs)}`;
        const color = mark.model ? '#8e44ad' : '#c0392b';
        parts.push(`<text x="${box.x - 2}" y="${ly}" text-anchor="end" font-size="9" fill="${color}">${k + 1}</text>`);
        parts.push(`<text x="${box.x + 2}" y="${ly}" font-size="10">${esc(text)}</text>`);
        if (mark.atMs === null) return;
        const mx = zx(zoom.at + mark.atMs);
        if (mx < box.x || mx > box.x + box.w) return;
        parts.push(`<line x1="${mx}" x2="${mx}" y1="${box.y}" y2="${box.y + box.h}" stroke="${color}" stroke-width="1.5"${mark.model ? ' stroke-dasharray="2 2"' : ''}/>`);
        parts.push(`<text x="${mx + 2}" y="${box.y + 24 + k * 11}" font-size="9" fill="${color}" stroke="#fff" stroke-width="3" paint-order="stroke">${k + 1}</text>`);
      });
    });
    y += 30 + 120 + 30 + 13 * Math.max(...row.map((z) => z.marks.length), 0) + 15;
  }

  // 3. The models.
  parts.push(`<text x="${LEFT}" y="${y + 8}" font-size="12"><tspan font-weight="bold">Model</tspan>: the same balancer classes on a virtual clock, 1/2/3 ms exact + 0.1 ms, no machine noise (share per 250 ms)</text>`);
  y += 16;
  for (const model of input.models) {
    const mt = model.timeline;
    const mEnd = mt.from + mt.started.length * mt.binMs;
    const box: Box = { x: LEFT, y: y + 14, w: plotW, h: 50 };
    const mx = (t: number) => LEFT + (t / mEnd) * plotW;
    parts.push(`<text x="${LEFT}" y="${y + 10}" font-size="11">${esc(model.label)}</text>`);
    parts.push(stackedShares(box, mt.started, COLORS));
    parts.push(shareAxis(box));
    for (const p of model.phases) {
      if (p.kind === 'steady') continue;
      const label = p.kind === 'reverse' ? 'reversed' : p.kind === 'freeze' ? `${model.frozen} frozen` : `${model.frozen} resumed`;
      parts.push(`<line x1="${mx(p.from)}" x2="${mx(p.from)}" y1="${box.y}" y2="${box.y + box.h}" stroke="#000" stroke-width="1.5" stroke-dasharray="4 3"/>`);
      parts.push(`<text x="${mx(p.from) + 3}" y="${box.y + 12}" font-size="10" stroke="#fff" stroke-width="3" paint-order="stroke">${esc(label)}</text>`);
    }
    parts.push(timeAxis(box, 0, mEnd, mEnd > 40_000 ? 10_000 : mEnd > 8000 ? 2000 : 1000));
    y = box.y + box.h + 24;
  }
  y += 16;

  // 4. Steady-state comparison, per scenario.
  const maxQps = niceMax(Math.max(...input.steady.map((s) => s.qps), 1));
  const barW = 360;
  for (const scenario of ['unequal', 'equal'] as const) {
    const rows = input.steady.filter((s) => s.scenario === scenario);
    parts.push(`<text x="${LEFT}" y="${y}" font-size="12" font-weight="bold">Steady state, ${scenario === 'equal' ? 'equal service times (2 ms on every provider)' : 'service times 1 / 2 / 3 ms'}</text>`);
    parts.push(`<text x="${LEFT + 740}" y="${y}" font-size="10" fill="#555">share A / B / C${scenario === 'equal' ? ' (ticks: 25 %, 42 %)' : ''}</text>`);
    y += 8;
    rows.forEach((row, i) => {
      const ry = y + i * 24;
      parts.push(`<text x="${LEFT + 80}" y="${ry + 14}" text-anchor="end" font-size="11" font-weight="bold">${esc(LABELS[row.balancer] ?? row.balancer)}</text>`);
      const w = (row.qps / maxQps) * barW;
      parts.push(`<rect x="${LEFT + 88}" y="${ry + 3}" width="${w}" height="15" fill="#555"/>`);
      parts.push(`<text x="${LEFT + 92 + w}" y="${ry + 14}" font-size="11">${fmtQps(row.qps)} QPS · mean ${Math.round(row.meanUs)} µs · p99 ${Math.round(row.p99Us)} µs</text>`);
      let sx = LEFT + 740;
      row.share.forEach((s, p) => {
        parts.push(`<rect x="${sx}" y="${ry + 3}" width="${s * 160}" height="15" fill="${COLORS[p]}" fill-opacity="0.85"><title>${esc(input.names[p]!)}: ${(s * 100).toFixed(1)} %</title></rect>`);
        if (s > 0.12) parts.push(`<text x="${sx + (s * 160) / 2}" y="${ry + 14}" text-anchor="middle" font-size="9" fill="#fff">${Math.round(s * 100)}%</text>`);
        sx += s * 160;
      });
      if (scenario === 'equal') {
        for (const f of [0.25, 0.42]) parts.push(`<line x1="${LEFT + 740 + f * 160}" x2="${LEFT + 740 + f * 160}" y1="${ry + 1}" y2="${ry + 20}" stroke="#000" stroke-width="1"/>`);
      }
    });
    y += rows.length * 24 + 18;
  }
  for (const text of input.verdict) {
    parts.push(`<text x="${LEFT}" y="${y}" font-size="11">${esc(text)}</text>`);
    y += 15;
  }
  y += 4;

  return svgDocument(WIDTH, y, parts);
}

/** A tick step that leaves room for labels like "+200 ms" in a close-up's width. */
function pickStep(spanMs: number): number {
  for (const s of [50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000]) if (spanMs / s <= 4.5) return s;
  return 20_000;
}

function fmtSigned(ms: number): string {
  const s = Math.abs(ms) >= 1000 ? `${+(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
  return ms > 0 ? `+${s}` : s;
}
