import type { IntervalStats } from './process-stats.js';
import type { SocketCounts } from './probes.js';
import type { Point, Scenario } from './scenarios.js';
import { pointKey } from './scenarios.js';
import { median } from '@trellis/core/toolkit';
import { esc, fmtQps, svgDocument } from './svg.js';

/** One side (client or server process) over the timed rounds of a point: medians over the rounds. */
export interface SideResult {
  /** % of one core. */
  readonly cpuPct: number;
  /** Event-loop utilisation, 0–1: near 1 the side is CPU-bound, well below it waits for the other side. */
  readonly elu: number;
  /** CPU (user + system) of this process per completed call, µs. */
  readonly cpuUsPerCall: number;
  /** The main thread's share of it (NaN off Linux); the rest is GC helper threads and libuv. */
  readonly mainThreadCpuUsPerCall: number;
  /** GC pauses as % of the event loop's busy time. */
  readonly gcPctOfBusy: number;
  /** GC pauses (scavenges and major GCs) per 1,000 calls. */
  readonly gcPer1kCalls: number;
  /** V8's young generation size at the end of the rounds, MiB (it grows under a high allocation rate). */
  readonly youngGenMiB: number;
}

/** Socket traffic of one side, per call (a diagnostic round; absent for grpc-js, whose HTTP/2 bypasses socket.write). */
export interface SocketsPerCall {
  /** Calls per 'data' event: how many answers (client) or requests (server) arrive together. */
  readonly callsPerRead: number;
  /** Calls per socket.write(): how many requests (client) or answers (server) leave together. */
  readonly callsPerWrite: number;
  readonly bytesInPerCall: number;
  readonly bytesOutPerCall: number;
  /** % of arrived batches whose next write left in the same event-loop iteration. */
  readonly sameTurnPct: number;
  readonly turnsToWrite: readonly number[];
  /** Mean time from a batch's arrival to the next write on this side, µs. */
  readonly arrivalToWriteUs: number;
}

export interface PointResult {
  readonly scenario: string;
  readonly point: string;
  readonly concurrency: number;
  readonly connections: number;
  readonly qps: { median: number; min: number; max: number };
  readonly p50Us: number;
  readonly p99Us: number;
  /** % of one core (kept from the first version of this report). */
  readonly clientCpu: number;
  readonly serverCpu: number;
  readonly client: SideResult;
  readonly server: SideResult;
  readonly calls: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly promisesPerCall: { client: number; server: number };
  readonly sockets: { client?: SocketsPerCall; server?: SocketsPerCall };
  /** 1-minute load average when the point started and ended. */
  readonly loadAverage: readonly [number, number];
}

/** Re-exported for main.ts, which reads it from here. */
export { median };

export function sideResult(rounds: readonly { stats: IntervalStats; calls: number }[]): SideResult {
  const per = (f: (r: { stats: IntervalStats; calls: number }) => number) => median(rounds.map(f));
  return {
    cpuPct: per((r) => r.stats.cpuPct),
    elu: per((r) => r.stats.elu),
    cpuUsPerCall: per((r) => r.stats.cpuUs / Math.max(1, r.calls)),
    mainThreadCpuUsPerCall: per((r) => r.stats.mainThreadCpuUs / Math.max(1, r.calls)),
    gcPctOfBusy: per((r) => r.stats.gcPctOfBusy),
    gcPer1kCalls: per((r) => (r.stats.gcCount * 1000) / Math.max(1, r.calls)),
    youngGenMiB: per((r) => r.stats.youngGenMiB),
  };
}

export function socketsPerCall(counts: SocketCounts | undefined, calls: number): SocketsPerCall | undefined {
  if (!counts || counts.reads === 0 || counts.writes === 0) return undefined;
  const answered = counts.turnsToWrite.reduce((a, b) => a + b, 0);
  return {
    callsPerRead: calls / counts.reads,
    callsPerWrite: calls / counts.writes,
    bytesInPerCall: counts.readBytes / calls,
    bytesOutPerCall: counts.writeBytes / calls,
    sameTurnPct: answered > 0 ? (counts.turnsToWrite[0] / answered) * 100 : 0,
    turnsToWrite: counts.turnsToWrite,
    arrivalToWriteUs: counts.arrivalToWriteUs,
  };
}

const fmtUs = (us: number) => (us >= 10_000 ? `${(us / 1000).toFixed(1)} ms` : `${Math.round(us)} µs`);
const pair = (a: number | undefined, b: number | undefined, digits: number, unit = '') =>
  `${a === undefined || !Number.isFinite(a) ? '–' : a.toFixed(digits)} / ${b === undefined || !Number.isFinite(b) ? '–' : b.toFixed(digits)}${unit}`;

function render(rows: string[][], leftColumns: number): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r, i) => r.map((c, j) => (j >= leftColumns ? c.padStart(widths[j]!) : c.padEnd(widths[j]!))).join('  ') + (i === 0 ? `\n${'-'.repeat(widths.reduce((a, b) => a + b + 2, 0))}` : '')).join('\n');
}

function eachResult(scenarios: readonly Scenario[], results: readonly PointResult[], row: (s: Scenario, r: PointResult) => string[]): string[][] {
  const rows: string[][] = [];
  for (const s of scenarios) for (const r of results.filter((x) => x.scenario === s.id)) rows.push(row(s, r));
  return rows;
}

/** Throughput, latency, and how busy each side was. */
export function table(scenarios: readonly Scenario[], results: readonly PointResult[]): string {
  return render([
    ['scenario', 'conc', 'QPS median', 'min–max', 'p50', 'p99', 'ELU client / server', 'CPU µs/call client / server', 'main thread', 'errors'],
    ...eachResult(scenarios, results, (s, r) => [
      s.label, r.point, fmtQps(r.qps.median), `${fmtQps(r.qps.min)}–${fmtQps(r.qps.max)}`, fmtUs(r.p50Us), fmtUs(r.p99Us),
      pair(r.client.elu, r.server.elu, 2), pair(r.client.cpuUsPerCall, r.server.cpuUsPerCall, 1),
      pair(r.client.mainThreadCpuUsPerCall, r.server.mainThreadCpuUsPerCall, 1), String(r.errors),
    ]),
  ], 2);
}

/** Where a call's cost comes from, per side (client / server): promises, GC, batching, turns. */
export function perCallTable(scenarios: readonly Scenario[], results: readonly PointResult[]): string {
  return render([
    ['per call, client / server', 'conc', 'promises', 'GC % of busy', 'GCs per 1k calls', 'young gen MiB', 'calls per read', 'calls per write', 'same-turn answer %', 'batch in → write out'],
    ...eachResult(scenarios, results, (s, r) => [
      s.label, r.point,
      pair(r.promisesPerCall.client, r.promisesPerCall.server, 1),
      pair(r.client.gcPctOfBusy, r.server.gcPctOfBusy, 0),
      pair(r.client.gcPer1kCalls, r.server.gcPer1kCalls, 1),
      pair(r.client.youngGenMiB, r.server.youngGenMiB, 0),
      pair(r.sockets.client?.callsPerRead, r.sockets.server?.callsPerRead, 1),
      pair(r.sockets.client?.callsPerWrite, r.sockets.server?.callsPerWrite, 1),
      pair(r.sockets.client?.sameTurnPct, r.sockets.server?.sameTurnPct, 0),
      pair(r.sockets.client?.arrivalToWriteUs, r.sockets.server?.arrivalToWriteUs, 0, ' µs'),
    ]),
  ], 2);
}

export interface Ratio {
  readonly name: string;
  readonly value: number;
  readonly target?: string;
  readonly met?: boolean;
}

/** The ratios the targets are stated in, computed within this one run. */
export function ratios(results: readonly PointResult[]): Ratio[] {
  const get = (scenario: string, point: string) => results.find((r) => r.scenario === scenario && r.point === point);
  const out: Ratio[] = [];
  const qpsRatio = (name: string, a: PointResult | undefined, b: PointResult | undefined, target?: { text: string; met: (v: number) => boolean }) => {
    if (!a || !b) return;
    const value = a.qps.median / b.qps.median;
    out.push({ name, value, ...(target ? { target: target.text, met: target.met(value) } : {}) });
  };
  const half = { text: '≥ 0.5', met: (v: number) => v >= 0.5 };
  for (const point of ['1', '32', '256', '256x4']) {
    const bare = get('trellis', point);
    qpsRatio(`bare / tight raw QPS @${point}`, bare, get('tight-raw', point), point === '32' || point === '256' ? half : undefined);
    qpsRatio(`bare / old raw QPS @${point}`, bare, get('raw', point));
    qpsRatio(`tight raw / old raw QPS @${point}`, get('tight-raw', point), get('raw', point));
    qpsRatio(`bare / grpc-js QPS @${point}`, bare, get('grpc-js', point),
      point === '32' ? { text: '> 15', met: (v) => v > 15 } : point === '256' ? { text: '> 20', met: (v) => v > 20 } : undefined);
    const tight = get('tight-raw', point);
    if (bare && tight) {
      out.push({ name: `bare / tight raw CPU per call @${point}`, value: (bare.client.cpuUsPerCall + bare.server.cpuUsPerCall) / (tight.client.cpuUsPerCall + tight.server.cpuUsPerCall) });
    }
  }
  const t1 = get('trellis', '1');
  const raw1 = get('raw', '1');
  const tight1 = get('tight-raw', '1');
  if (t1 && raw1) out.push({ name: 'bare / old raw p50 latency @1', value: t1.p50Us / raw1.p50Us, target: '≤ 1.3', met: t1.p50Us / raw1.p50Us <= 1.3 });
  if (t1 && tight1) out.push({ name: 'bare / tight raw p50 latency @1', value: t1.p50Us / tight1.p50Us });
  const bare = get('trellis', '256');
  qpsRatio('all plugins, no OTel SDK / bare @256', get('trellis-governance-nosdk', '256'), bare, { text: '≥ 0.75', met: (v) => v >= 0.75 });
  qpsRatio('all plugins, SDK 1 % traced / bare @256', get('trellis-governance-1pct', '256'), bare, { text: '≥ 0.6', met: (v) => v >= 0.6 });
  qpsRatio('all plugins, every call traced / bare @256', get('trellis-governance', '256'), bare, { text: '≥ 0.45', met: (v) => v >= 0.45 });
  return out;
}

/** A grouped bar chart of QPS by concurrency, one bar per scenario, log scale (values span 100×). */
export function svgChart(scenarios: readonly Scenario[], results: readonly PointResult[], title: string): string {
  const points = ['1', '32', '256', '256x4'];
  const colors = ['#2f6fdf', '#5b8be6', '#7aa6f0', '#a9c4f5', '#e0812f', '#9a9a9a', '#333333'];
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
  parts.push(`<text x="${width / 2}" y="24" text-anchor="middle" font-size="15">${esc(title)}</text>`);
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
      parts.push(`<rect x="${x}" y="${yy}" width="${barW - 4}" height="${top + plotH - yy}" fill="${colors[si % colors.length]}"><title>${esc(s.label)} @${point}: ${Math.round(r.qps.median)} QPS</title></rect>`);
      parts.push(`<text x="${x + (barW - 4) / 2}" y="${yy - 4}" text-anchor="middle" font-size="10">${fmtQps(r.qps.median)}</text>`);
    });
    parts.push(`<text x="${gx + (groupW - 30) / 2}" y="${top + plotH + 18}" text-anchor="middle">${point === '256x4' ? 'conc 256, 4 conns' : `conc ${point}, 1 conn`}</text>`);
  });
  scenarios.forEach((s, si) => {
    // Two legend entries per row: the labels are long.
    const lx = left + (si % 2) * 380;
    const ly = height - legendRows * 18 + Math.floor(si / 2) * 18 - 4;
    parts.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${colors[si % colors.length]}"/>`);
    parts.push(`<text x="${lx + 16}" y="${ly}">${esc(s.label)}</text>`);
  });
  return svgDocument(width, height, parts);
}

export type { Point };
export { pointKey };
