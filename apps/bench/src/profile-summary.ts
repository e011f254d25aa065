/**
 * Summarises .cpuprofile and .heapprofile files (V8's formats, as written by `pnpm bench --profile`,
 * `node --cpu-prof` or Chrome DevTools): self time — or bytes allocated — by package and by function,
 * per call when the number of calls in the profile is known.
 *
 *   node dist/profile-summary.js FILE.cpuprofile [FILE2 …] [--calls N] [--top 20]
 *
 * Packages: the kernel (core, its transport apart), Trellis's codec, protobufjs, each plugin,
 * OpenTelemetry, grpc-js, the bench's own loop and raw framings, Node's internals (net + streams,
 * Buffer, ticks + callbacks, perf_hooks, the rest), GC, and V8/native time the profiler could not
 * attribute. A native or
 * builtin frame (no script URL: `Map.prototype.set`, `writeBuffer`) is charged to the package of the
 * JS function that called it, so "kernel" includes the builtins the kernel calls.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface CpuNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly hitCount?: number;
  readonly children?: readonly number[];
}

export interface CpuProfile {
  readonly nodes: readonly CpuNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples?: readonly number[];
}

interface HeapNode {
  readonly callFrame: CallFrame;
  readonly selfSize: number;
  readonly children: readonly HeapNode[];
}

export interface HeapProfile {
  readonly head: HeapNode;
}

export interface SummaryRow {
  readonly name: string;
  readonly category: string;
  /** CPU: self time in ms; heap: sampled bytes. */
  readonly total: number;
  /** CPU: µs per call; heap: bytes per call (NaN when the number of calls is unknown). */
  readonly perCall: number;
  /** % of busy time (CPU) or of all sampled bytes (heap). */
  readonly share: number;
}

export interface ProfileSummary {
  readonly kind: 'cpu' | 'heap';
  readonly calls: number;
  /** CPU: profiled wall time, ms; heap: sampled bytes. */
  readonly total: number;
  /** CPU: time not idle, ms (heap: = total). */
  readonly busy: number;
  readonly categories: readonly SummaryRow[];
  readonly functions: readonly SummaryRow[];
}

export const IDLE = 'idle';
export const GC = 'GC';

/** The package a frame belongs to, or undefined for a native/builtin frame (charged to its caller). */
export function categoryOf(frame: CallFrame): string | undefined {
  const { functionName, url } = frame;
  if (functionName === '(garbage collector)') return GC;
  if (functionName === '(idle)') return IDLE;
  if (functionName === '(program)') return 'V8/native, unattributed';
  if (functionName === '(root)') return 'V8/native, unattributed';
  if (!url) {
    // protobufjs's generated functions (new Function: no script URL), named Type$method.
    if (/\$(encode|decode|verify)$/.test(functionName)) return 'protobufjs';
    if (/\$(fromObject|toObject)$/.test(functionName)) return 'fromObject/toObject';
    return undefined;
  }
  if (url.startsWith('node:')) {
    if (/^node:(net|stream|events|internal\/(streams|stream_base_commons|net))/.test(url)) return 'node: net + streams';
    if (/^node:(internal\/)?buffer/.test(url)) return 'node: Buffer';
    if (/^node:(timers|internal\/(process\/task_queues|process\/promises|fixed_queue|timers|async_hooks))/.test(url)) return 'node: ticks + callbacks';
    if (/^node:internal\/perf\//.test(url)) return 'node: perf_hooks';
    return 'node: other';
  }
  const path = url.replace(/\\/g, '/');
  if (/\/packages\/core\/(dist|src)\/transport\//.test(path)) return 'kernel: transport';
  if (/\/packages\/core\//.test(path)) return 'kernel';
  if (/\/packages\/codec-protobuf\//.test(path)) return 'codec-protobuf';
  if (/\/node_modules\/(protobufjs|@protobufjs\/[^/]+|long)\//.test(path)) return 'protobufjs';
  const plugin = /\/plugins\/([^/]+)\//.exec(path);
  if (plugin) return `plugin: ${plugin[1]}`;
  if (/\/@opentelemetry\//.test(path)) return 'OpenTelemetry';
  if (/\/@grpc\/(grpc-js|proto-loader)\//.test(path)) return 'grpc-js';
  if (/\/apps\/bench\/(dist|src)\/kinds\/tight-raw\./.test(path)) return 'tight-raw framing';
  if (/\/apps\/bench\/(dist|src)\/kinds\/raw\./.test(path)) return 'raw framing';
  if (/\/apps\/bench\//.test(path)) return 'bench loop';
  return 'other';
}

function frameName(frame: CallFrame): string {
  const file = frame.url ? `${basename(frame.url.replace(/^file:\/\//, ''))}:${frame.lineNumber + 1}` : 'native';
  return `${frame.functionName || '(anonymous)'} ${file}`;
}

/** Self totals by category and by function, walking the tree so builtins inherit their caller's package. */
function aggregate(
  roots: readonly { frame: CallFrame; self: number; children: readonly unknown[] }[],
  childrenOf: (node: unknown) => readonly { frame: CallFrame; self: number; children: readonly unknown[] }[],
): { categories: Map<string, number>; functions: Map<string, { category: string; total: number }> } {
  const categories = new Map<string, number>();
  const functions = new Map<string, { category: string; total: number }>();
  const stack: { node: { frame: CallFrame; self: number; children: readonly unknown[] }; inherited: string; caller: string }[] =
    roots.map((node) => ({ node, inherited: 'V8/native, unattributed', caller: '' }));
  while (stack.length > 0) {
    const { node, inherited, caller } = stack.pop()!;
    const own = categoryOf(node.frame);
    const category = own ?? inherited;
    const name = own === undefined && caller ? `${frameName(node.frame)} ← ${caller}` : frameName(node.frame);
    if (node.self > 0) {
      categories.set(category, (categories.get(category) ?? 0) + node.self);
      const entry = functions.get(name) ?? { category, total: 0 };
      entry.total += node.self;
      functions.set(name, entry);
    }
    const nextCaller = own === undefined ? caller : frameName(node.frame).split(' ')[0]!;
    for (const child of childrenOf(node)) stack.push({ node: child, inherited: category, caller: nextCaller });
  }
  return { categories, functions };
}

function rows(map: Map<string, number> | Map<string, { category: string; total: number }>, base: number, calls: number, perCallScale: number): SummaryRow[] {
  const out: SummaryRow[] = [];
  for (const [name, value] of map) {
    const total = typeof value === 'number' ? value : value.total;
    const category = typeof value === 'number' ? name : value.category;
    out.push({ name, category, total, perCall: calls > 0 ? (total * perCallScale) / calls : NaN, share: base > 0 ? (total / base) * 100 : 0 });
  }
  return out.sort((a, b) => b.total - a.total);
}

/**
 * `mainThreadCpuUs`, when known (main.ts reads it from /proc for the profiled round), is the on-CPU
 * time the non-idle samples share. Without it each sample stands for wall time / samples, which on a
 * shared machine also counts the time the thread was preempted while it had work.
 */
export function summarizeCpu(profile: CpuProfile, calls: number, top = 20, mainThreadCpuUs = NaN): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const wallMs = (profile.endTime - profile.startTime) / 1000;
  type Wrapped = { frame: CallFrame; self: number; children: readonly number[] };
  const wrap = (n: CpuNode): Wrapped => ({ frame: n.callFrame, self: n.hitCount ?? 0, children: n.children ?? [] });
  const { categories, functions } = aggregate([wrap(profile.nodes[0]!)], (node) => (node as Wrapped).children.map((id) => wrap(byId.get(id)!)));
  const samples = [...categories.values()].reduce((a, b) => a + b, 0);
  const idleSamples = categories.get(IDLE) ?? 0;
  const busySamples = samples - idleSamples;
  const msPerSample = Number.isFinite(mainThreadCpuUs) && busySamples > 0 ? mainThreadCpuUs / 1000 / busySamples : samples > 0 ? wallMs / samples : 0;
  const busy = busySamples * msPerSample;
  categories.delete(IDLE);
  for (const [name, value] of functions) if (value.category === IDLE) functions.delete(name);
  for (const [name, value] of categories) categories.set(name, value * msPerSample);
  for (const value of functions.values()) value.total *= msPerSample;
  // Self ms → µs per call.
  return { kind: 'cpu', calls, total: wallMs, busy, categories: rows(categories, busy, calls, 1000), functions: rows(functions, busy, calls, 1000).slice(0, top) };
}

export function summarizeHeap(profile: HeapProfile, calls: number, top = 20): ProfileSummary {
  type Wrapped = { frame: CallFrame; self: number; children: readonly HeapNode[] };
  const wrap = (n: HeapNode): Wrapped => ({ frame: n.callFrame, self: n.selfSize, children: n.children });
  const { categories, functions } = aggregate([wrap(profile.head)], (node) => (node as Wrapped).children.map(wrap));
  const total = [...categories.values()].reduce((a, b) => a + b, 0);
  return { kind: 'heap', calls, total, busy: total, categories: rows(categories, total, calls, 1), functions: rows(functions, total, calls, 1).slice(0, top) };
}

export function summarizeFile(path: string, calls: number, top?: number, mainThreadCpuUs?: number): ProfileSummary {
  const data = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile | HeapProfile;
  return 'head' in data ? summarizeHeap(data, calls, top) : summarizeCpu(data as CpuProfile, calls, top, mainThreadCpuUs);
}

const fmt = (value: number, digits = 2) => (Number.isFinite(value) ? value.toFixed(digits) : '–');

function textTable(rowsIn: readonly string[][]): string {
  const widths = rowsIn[0]!.map((_, i) => Math.max(...rowsIn.map((r) => r[i]!.length)));
  return rowsIn.map((r, i) => r.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join('  ') + (i === 0 ? `\n${'-'.repeat(widths.reduce((a, b) => a + b + 2, 0))}` : '')).join('\n');
}

/**
 * Several profiles side by side, one column each (e.g. Trellis client, Trellis server, tight-raw
 * client, tight-raw server): per-call cost of every package that costs anything in any of them.
 */
export function compareCategories(columns: readonly { label: string; summary: ProfileSummary }[]): string {
  const unit = columns[0]?.summary.kind === 'heap' ? 'B/call' : 'µs/call';
  const names = new Map<string, number>();
  for (const { summary } of columns) for (const row of summary.categories) names.set(row.name, Math.max(names.get(row.name) ?? 0, Number.isFinite(row.perCall) ? row.perCall : row.total));
  const ordered = [...names.entries()].sort((a, b) => b[1] - a[1]).map(([n]) => n);
  const digits = unit === 'B/call' ? 0 : 2;
  const table: string[][] = [[`by package (${unit}, % of ${unit === 'B/call' ? 'bytes' : 'busy'})`, ...columns.map((c) => c.label)]];
  for (const name of ordered) {
    table.push([name, ...columns.map(({ summary }) => {
      const row = summary.categories.find((r) => r.name === name);
      return row ? `${fmt(row.perCall, digits)} (${row.share.toFixed(0)} %)` : '';
    })]);
  }
  table.push(['total', ...columns.map(({ summary }) => {
    const total = summary.categories.reduce((a, r) => a + (Number.isFinite(r.perCall) ? r.perCall : 0), 0);
    return `${fmt(total, digits)}`;
  })]);
  if (unit === 'µs/call') table.push(['on-CPU / profiled wall', ...columns.map(({ summary }) => `${((summary.busy / summary.total) * 100).toFixed(0)} %`)]);
  return textTable(table);
}

export function topFunctions(label: string, summary: ProfileSummary, top = 15): string {
  const unit = summary.kind === 'heap' ? 'B/call' : 'µs/call';
  const table: string[][] = [[`${label}: top functions by self ${summary.kind === 'heap' ? 'allocation' : 'time'}`, 'package', unit, '%']];
  for (const row of summary.functions.slice(0, top)) {
    table.push([row.name.length > 90 ? `${row.name.slice(0, 87)}...` : row.name, row.category, fmt(row.perCall, summary.kind === 'heap' ? 0 : 2), row.share.toFixed(1)]);
  }
  return textTable(table);
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { calls: { type: 'string' }, top: { type: 'string', default: '20' } },
  });
  if (positionals.length === 0) {
    console.error('usage: node dist/profile-summary.js FILE.cpuprofile|FILE.heapprofile [FILE2 …] [--calls N] [--top 20]');
    process.exit(2);
  }
  const calls = values.calls === undefined ? 0 : Number(values.calls);
  const top = Number(values.top);
  const summaries = positionals.map((path) => ({ label: basename(path), summary: summarizeFile(path, calls, top) }));
  console.log(compareCategories(summaries));
  for (const { label, summary } of summaries) console.log(`\n${topFunctions(label, summary, top)}`);
}

if (require.main === module) main();
