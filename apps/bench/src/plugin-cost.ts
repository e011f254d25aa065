/**
 * What each governance plugin costs a call over loopback, client and server together (one process,
 * one core, 256 in flight): leave-one-out, measured as a **difference within one process**.
 *
 *   node dist/plugin-cost.js [nosdk|sdk1pct|sdk100] [--processes N] [--slices N] [--slice-ms MS]
 *                            [--warmup-ms MS] [--only @trellis/a,@trellis/b] [--core C] [--json FILE]
 *
 * Groups, each run in `--processes` fresh processes (default 3), the groups interleaved (every group's
 * first process, then every group's second, …, the order rotated): `all plugins` against `all but X`
 * for each plugin X; `bare` against `all plugins`; and `all plugins` against itself (A/A: the noise
 * floor — what a difference of zero looks like). Inside a process (plugin-cost-process.ts) the two
 * configurations are loaded in turn in slices of `--slice-ms` (250), the order rotated every slice;
 * a slice pair's difference in CPU per call is taken, and the process's figure is the median of its
 * pairs. Printed per group: the median over processes and their min–max, the plugins ranked.
 * Every process is pinned to one core with `taskset -c` (every thread, from its start). Why this
 * shape, and the spread it leaves: apps/bench/README.md, "What each plugin costs over loopback".
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { median } from '@trellis/core/toolkit';
import { loadedGovernance, clientGovernance, serverGovernance } from './governance.js';
import { PLUGIN_COST_MODES, type PluginCostConfig, type PluginCostMode, type PluginCostProcessArgs, type PluginCostProcessResult, type PluginCostSlice } from './plugin-cost-process.js';

interface Group {
  readonly name: string;
  /** The figure is `a − b` per call: what `b` saves against `a`. */
  readonly a: PluginCostConfig;
  readonly b: PluginCostConfig;
}

/** One process's figures for its group. */
interface GroupSample {
  /** Median over the slice pairs of a − b, µs per call. */
  readonly differenceUs: number;
  /** Median over the slice pairs of (a − b) ÷ a, %: less moved by a neighbour that slows both alike. */
  readonly sharePct: number;
  /** Median CPU per call of each side, µs (the absolute level: what the neighbours move). */
  readonly aUs: number;
  readonly bUs: number;
  /** GCs per 1,000 calls of each side. */
  readonly aGcPer1k: number;
  readonly bGcPer1k: number;
}

const ALL: PluginCostConfig = { name: 'all plugins', plugins: true, skip: [] };

/** Every governance package the bench installs (either side), in governance.ts's order. */
function governancePackages(): string[] {
  clientGovernance();
  const client = [...loadedGovernance];
  serverGovernance();
  return [...new Set([...client, ...loadedGovernance])];
}

function groups(only: readonly string[] | undefined): Group[] {
  const packages = governancePackages().filter((pkg) => !only || only.includes(pkg));
  return [
    { name: 'A/A: all plugins − all plugins (noise floor)', a: ALL, b: { ...ALL, name: 'all plugins (again)' } },
    { name: 'all plugins − bare', a: ALL, b: { name: 'bare', plugins: false, skip: [] } },
    ...packages.map((pkg) => ({ name: pkg, a: ALL, b: { name: `all but ${pkg}`, plugins: true, skip: [pkg] } })),
  ];
}

const perCall = (slice: PluginCostSlice) => slice.cpuUs / Math.max(1, slice.calls);
const gcPer1k = (slices: readonly PluginCostSlice[]) =>
  (slices.reduce((n, s) => n + s.gcCount, 0) / Math.max(1, slices.reduce((n, s) => n + s.calls, 0))) * 1000;

function runProcess(args: PluginCostProcessArgs, core: number | undefined): Promise<PluginCostProcessResult> {
  const script = join(__dirname, 'plugin-cost-process.js');
  const [command, argv] = core === undefined
    ? [process.execPath, [script, JSON.stringify(args)]]
    : ['taskset', ['-c', String(core), process.execPath, script, JSON.stringify(args)]];
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`plugin-cost process exited with ${code}`));
      try {
        resolve(JSON.parse(out) as PluginCostProcessResult);
      } catch (error) {
        reject(error);
      }
    });
  });
}

function groupSample(group: Group, result: PluginCostProcessResult): GroupSample {
  const a = result.slices[group.a.name]!;
  const b = result.slices[group.b.name]!;
  return {
    differenceUs: median(a.map((slice, i) => perCall(slice) - perCall(b[i]!))),
    sharePct: median(a.map((slice, i) => (1 - perCall(b[i]!) / perCall(slice)) * 100)),
    aUs: median(a.map(perCall)),
    bUs: median(b.map(perCall)),
    aGcPer1k: gcPer1k(a),
    bGcPer1k: gcPer1k(b),
  };
}

const spread = (values: readonly number[], digits = 2) => `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      processes: { type: 'string', default: '3' },
      slices: { type: 'string', default: '12' },
      'slice-ms': { type: 'string', default: '250' },
      'warmup-ms': { type: 'string', default: '1500' },
      only: { type: 'string' },
      core: { type: 'string' },
      json: { type: 'string' },
    },
  });
  const mode = (positionals[0] ?? 'nosdk') as PluginCostMode;
  if (!PLUGIN_COST_MODES.includes(mode)) {
    console.error(`unknown mode ${mode}; known: ${PLUGIN_COST_MODES.join(', ')}`);
    return 2;
  }
  const processes = Number(values.processes);
  const core = values.core !== undefined ? Number(values.core) : cpus().length > 1 ? 0 : undefined;
  const list = groups(values.only?.split(','));
  const settings = { mode, warmupMs: Number(values['warmup-ms']), slices: Number(values.slices), sliceMs: Number(values['slice-ms']) };
  console.log(`plugin cost, ${mode}: client and server in one process${core === undefined ? '' : ` pinned to core ${core}`}, 256 in flight; ` +
    `${list.length} groups × ${processes} processes, interleaved; per process ${settings.slices} slice pairs of ${settings.sliceMs} ms after ${settings.warmupMs} ms warm-up each`);
  const samples = new Map<Group, GroupSample[]>(list.map((g) => [g, []]));
  const raw: { group: string; process: number; result: PluginCostProcessResult }[] = [];
  let errors = 0;
  for (let p = 0; p < processes; p++) {
    for (let k = 0; k < list.length; k++) {
      const group = list[(k + p) % list.length]!;
      const result = await runProcess({ ...settings, configs: [group.a, group.b] }, core);
      errors += result.errors;
      raw.push({ group: group.name, process: p + 1, result });
      if (result.firstError) console.error(`${group.name}: ${result.errors} calls failed (${result.firstError})`);
      const sample = groupSample(group, result);
      samples.get(group)!.push(sample);
      console.log(`  ${group.name.padEnd(46)} process ${p + 1}: ${sample.differenceUs.toFixed(2).padStart(6)} µs/call, ${sample.sharePct.toFixed(1).padStart(5)} % (${group.a.name} ${sample.aUs.toFixed(2)}, ${group.b.name} ${sample.bUs.toFixed(2)})`);
    }
  }
  if (values.json) writeFileSync(values.json, JSON.stringify({ date: new Date().toISOString(), settings, core, processes: raw }, null, 1));
  const rows = list.map((group) => {
    const s = samples.get(group)!;
    const difference = s.map((x) => x.differenceUs);
    const share = s.map((x) => x.sharePct);
    return { group, median: median(difference), range: spread(difference), share: median(share), shareRange: spread(share, 1), a: s.map((x) => x.aUs), gc: `${median(s.map((x) => x.aGcPer1k)).toFixed(2)} / ${median(s.map((x) => x.bGcPer1k)).toFixed(2)}` };
  });
  console.log(`\nCPU per call, both sides: the difference a − b in µs and as % of a, median over ${processes} processes (each the median of its slice pairs)` +
    `\nand min–max over the processes; the absolute level of a in µs (what the neighbours move); GCs per 1,000 calls of a / b, medians:`);
  const header = `${'group (a − b)'.padEnd(46)} ${'µs'.padStart(6)}  ${'min–max'.padEnd(12)}  ${'%'.padStart(5)}  ${'min–max'.padEnd(11)}  ${'a: median, min–max'.padEnd(20)}  GCs/1k a / b`;
  console.log(`${header}\n${'-'.repeat(header.length)}`);
  const control = rows.slice(0, 2);
  const ranked = rows.slice(2).sort((x, y) => y.median - x.median);
  for (const row of [...control, ...ranked]) {
    console.log(`${row.group.name.padEnd(46)} ${row.median.toFixed(2).padStart(6)}  ${row.range.padEnd(12)}  ${row.share.toFixed(1).padStart(5)}  ${row.shareRange.padEnd(11)}  ${`${median(row.a).toFixed(2)}, ${spread(row.a)}`.padEnd(20)}  ${row.gc}`);
  }
  const sum = ranked.reduce((n, r) => n + r.median, 0);
  console.log(`\nsum of the plugins' leave-one-out costs ${sum.toFixed(2)} µs against all plugins − bare ${rows[1]!.median.toFixed(2)} µs ` +
    `(they need not add up: plugins share work, e.g. the kernel's governed path runs once any plugin is installed)`);
  console.log('A difference inside the A/A row\'s min–max is not told apart from zero on this run.');
  if (errors > 0) {
    console.error(`${errors} calls failed`);
    return 1;
  }
  return 0;
}

main().then((code) => process.exit(code), (error: Error) => {
  console.error(`plugin-cost failed: ${error.stack ?? error.message}`);
  process.exit(1);
});
