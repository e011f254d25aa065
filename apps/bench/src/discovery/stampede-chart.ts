/**
 * bench-results/stampede.svg: per registry and topology, the jittered run beside the run without
 * jitter, per 100 ms from the restart — sessions getting through (bars, in %
 * of the fleet, with the 10 % line), new TCP connections, reads and watches set (lines), sessions
 * created / leases granted (marks), and the registry's CPU.
 */
import { BIN_MS, type StampedeResult } from './stampede-run.js';
import { esc, line, niceMax, r, svgDocument, timeAxis, type Box } from '../svg.js';

const WIDTH = 1000;
const LEFT = 60;
const GAP = 40;
const PANEL_W = (WIDTH - LEFT - 30 - GAP) / 2;
const COLOR = { session: '#2f6fdf', connect: '#888', read: '#e0812f', watch: '#3a9d5d', create: '#c0392b', cpu: '#9b59b6' };


/** One run: sessions (% bars), connections / reads / watches (lines), creations (ticks), CPU below. */
function panel(result: StampedeResult, box: Box, scale: { share: number; count: number; cpu: number; bins: number }): string {
  const out: string[] = [];
  const bins = scale.bins;
  const bw = box.w / bins;
  const top: Box = { x: box.x, y: box.y, w: box.w, h: box.h * 0.62 };
  const cpuBox: Box = { x: box.x, y: top.y + top.h + 14, w: box.w, h: box.h - top.h - 14 };
  const y = (fraction: number, b: Box) => b.y + b.h * (1 - Math.min(1, fraction));
  // Grid: share of the fleet per bin (left axis), counts (right axis).
  for (const f of [0, 0.5, 1]) {
    out.push(`<line x1="${top.x}" x2="${top.x + top.w}" y1="${r(y(f, top))}" y2="${r(y(f, top))}" stroke="#000" stroke-opacity="${f === 0 ? 0.6 : 0.1}"/>`);
    out.push(`<text x="${top.x - 4}" y="${r(y(f, top) + 4)}" text-anchor="end" font-size="9" fill="${COLOR.session}">${Math.round(f * scale.share * 100)}%</text>`);
    out.push(`<text x="${top.x + top.w + 3}" y="${r(y(f, top) + 4)}" font-size="9" fill="#555">${Math.round(f * scale.count)}</text>`);
  }
  const tenPercent = y(0.1 / scale.share, top);
  out.push(`<line x1="${top.x}" x2="${top.x + top.w}" y1="${r(tenPercent)}" y2="${r(tenPercent)}" stroke="#c0392b" stroke-dasharray="5 3"/>`);
  out.push(`<text x="${top.x + top.w - 2}" y="${r(tenPercent - 3)}" text-anchor="end" font-size="9" fill="#c0392b">10 % of the fleet</text>`);
  result.bins.session.slice(0, bins).forEach((n, i) => {
    if (n === 0) return;
    const h = top.h * Math.min(1, n / result.sessions / scale.share);
    out.push(`<rect x="${r(top.x + i * bw)}" y="${r(top.y + top.h - h)}" width="${r(Math.max(0.8, bw - 0.4))}" height="${r(h)}" fill="${COLOR.session}" fill-opacity="0.75"/>`);
  });
  const mid = (i: number) => top.x + (i + 0.5) * bw;
  for (const kind of ['connect', 'read', 'watch'] as const) {
    out.push(line(result.bins[kind].slice(0, bins).map((n, i) => [mid(i), y(n / scale.count, top)] as const), `stroke="${COLOR[kind]}" stroke-width="1.1"`));
  }
  result.bins.create.slice(0, bins).forEach((n, i) => {
    if (n > 0) out.push(`<line x1="${r(mid(i))}" x2="${r(mid(i))}" y1="${r(top.y + top.h)}" y2="${r(y(n / scale.count, top))}" stroke="${COLOR.create}" stroke-width="2"/>`);
  });
  // The moment the registry's readiness probe passed.
  const x0 = box.x + (result.startupMs / BIN_MS) * bw;
  out.push(`<line x1="${r(x0)}" x2="${r(x0)}" y1="${top.y}" y2="${cpuBox.y + cpuBox.h}" stroke="#000" stroke-dasharray="3 2"/>`);
  // CPU.
  for (const f of [0, 1]) {
    out.push(`<line x1="${cpuBox.x}" x2="${cpuBox.x + cpuBox.w}" y1="${r(y(f, cpuBox))}" y2="${r(y(f, cpuBox))}" stroke="#000" stroke-opacity="${f === 0 ? 0.6 : 0.1}"/>`);
    out.push(`<text x="${cpuBox.x - 4}" y="${r(y(f, cpuBox) + 4)}" text-anchor="end" font-size="9" fill="${COLOR.cpu}">${Math.round(f * scale.cpu)}%</text>`);
  }
  out.push(line(result.cpuPercent.slice(0, bins).map((c, i) => [mid(i), y(c / scale.cpu, cpuBox)] as const), `stroke="${COLOR.cpu}" stroke-width="1.1"`));
  out.push(timeAxis(cpuBox, 0, bins * BIN_MS, 2000, (ms) => `${ms / 1000} s`));
  return out.join('\n');
}

export function stampedeChart(results: readonly StampedeResult[], subtitle: string): string {
  const parts: string[] = [];
  let y = 20;
  parts.push(`<text x="${WIDTH / 2}" y="${y}" text-anchor="middle" font-size="16" font-weight="bold">The reconnect stampede: ${results[0]?.sessions ?? 0} registry clients, registry down 15 s, then back</text>`);
  parts.push(`<text x="${WIDTH / 2}" y="${y + 17}" text-anchor="middle" font-size="11" fill="#555">${esc(subtitle)}</text>`);
  y += 32;
  const legend: [string, string][] = [
    [COLOR.session, 'sessions back (bars, % of the fleet, left)'], [COLOR.connect, 'TCP connections'], [COLOR.read, 'reads'],
    [COLOR.watch, 'watches set'], [COLOR.create, 'sessions created / leases granted'], [COLOR.cpu, 'registry CPU (% of a core)'],
  ];
  let lx = LEFT;
  for (const [color, text] of legend) {
    parts.push(`<rect x="${lx}" y="${y}" width="10" height="10" fill="${color}"/><text x="${lx + 14}" y="${y + 9}" font-size="10">${esc(text)}</text>`);
    lx += 14 + text.length * 5.2 + 14;
  }
  parts.push(`<text x="${LEFT}" y="${y + 24}" font-size="10" fill="#555">counts per 100 ms on the right axis; time from the restart of the registry processes; dashed: its readiness probe passed</text>`);
  y += 40;
  const groups = new Map<string, StampedeResult[]>();
  for (const result of results) {
    const key = `${result.kind} ${result.topology}`;
    groups.set(key, [...(groups.get(key) ?? []), result]);
  }
  for (const [key, runs] of groups) {
    // One scale per row, so the two runs compare at a glance.
    const scale = {
      share: Math.max(0.2, niceMax(Math.max(...runs.map((run) => run.peakShare)))),
      count: niceMax(Math.max(...runs.flatMap((run) => [...run.bins.connect, ...run.bins.read, ...run.bins.watch, ...run.bins.create]), 1)),
      cpu: niceMax(Math.max(...runs.flatMap((run) => run.cpuPercent), 10)),
      bins: Math.min(...runs.map((run) => run.bins.session.length)),
    };
    const [kind, topology] = key.split(' ');
    parts.push(`<text x="${LEFT}" y="${y}" font-size="13" font-weight="bold">${kind === 'etcd' ? 'etcd 3.4' : 'ZooKeeper 3.8'}, ${topology === 'single' ? 'one server' : '3-member cluster'}</text>`);
    y += 8;
    runs.sort((a, b) => Number(b.jitter) - Number(a.jitter)).forEach((run, i) => {
      const box: Box = { x: LEFT + i * (PANEL_W + GAP), y: y + 22, w: PANEL_W, h: 150 };
      const back = run.sessionsBackMs ? `back +${r(run.sessionsBackMs.first / 1000)}…+${r(run.sessionsBackMs.last / 1000)} s` : 'none back';
      parts.push(`<text x="${box.x}" y="${y + 12}" font-size="11"><tspan font-weight="bold">${run.jitter ? 'jittered (defaults)' : 'no jitter'}</tspan>: peak ${run.peakSessions} sessions in 100 ms (${r(run.peakShare * 100)} %), ${back}; CPU 10 s ${r(run.cpuFirst10sMs / 1000)} s</text>`);
      parts.push(panel(run, box, scale));
      const t = run.totals;
      parts.push(`<text x="${box.x}" y="${box.y + box.h + 30}" font-size="10" fill="#333">${t.connect} connections, ${t.session} sessions back, ${t.create} created/granted, ${t.read} reads, ${t.watch} watches set, ${t.expired} lost; ${run.completeConsumers}/${run.consumers} consumers complete</text>`);
    });
    y += 22 + 150 + 50;
  }
  return svgDocument(WIDTH, y, parts);
}
