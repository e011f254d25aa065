/**
 * One process of `plugin-cost.js` (the orchestrator starts it pinned to one core): two or more
 * configurations, each a Trellis server and client **in this process**, loaded in turn in short
 * slices (256 calls in flight over loopback, SLICE_MS each), the order rotated every slice; prints
 * one JSON line (`PluginCostProcessResult`) and exits.
 *
 *   node dist/plugin-cost-process.js '<PluginCostProcessArgs as JSON>'
 *
 * Why slices in one process rather than one process per configuration: a neighbour on this machine
 * (on this core or its SMT sibling) slows every instruction of this process while it runs, for
 * hundreds of ms to minutes at a time. Measured that way (session 13, apps/bench/README.md) one
 * configuration's CPU per call moved 4.2–8.0 µs between processes, and 3.7–10.0 µs between 250 ms
 * slices of one process — more than any plugin costs. Slices of two configurations taken 250 ms apart
 * see the same neighbours, so their difference keeps the plugin's cost and drops most of the noise.
 */
import type { BenchCaller, BenchServer } from './kinds/kind.js';
import { installTracingSdk } from './kinds/tracing-sdk.js';
import { trellisKind } from './kinds/trellis.js';
import { runRound } from './load.js';
import { observeGc } from './process-stats.js';

/** `nosdk`: every plugin, no OpenTelemetry SDK; `sdk1pct` / `sdk100`: an SDK sampling 1 % / every call. */
export type PluginCostMode = 'nosdk' | 'sdk1pct' | 'sdk100';
export const PLUGIN_COST_MODES: readonly PluginCostMode[] = ['nosdk', 'sdk1pct', 'sdk100'];

export interface PluginCostConfig {
  readonly name: string;
  /** false: the bare kernel. */
  readonly plugins: boolean;
  /** Packages left out (governance.ts's TRELLIS_BENCH_SKIP). */
  readonly skip: readonly string[];
}

export interface PluginCostProcessArgs {
  readonly mode: PluginCostMode;
  readonly configs: readonly PluginCostConfig[];
  readonly warmupMs: number;
  readonly slices: number;
  readonly sliceMs: number;
}

/** One slice of one configuration: the process's CPU (every thread: both sides of every call). */
export interface PluginCostSlice {
  readonly cpuUs: number;
  readonly calls: number;
  readonly gcCount: number;
}

export interface PluginCostProcessResult {
  /** By configuration name: its slices, in time order (slice i of every configuration ran back to back). */
  readonly slices: Record<string, PluginCostSlice[]>;
  readonly errors: number;
  readonly firstError?: string;
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '') as PluginCostProcessArgs;
  if (!PLUGIN_COST_MODES.includes(args.mode)) throw new Error(`unknown mode ${args.mode}; known: ${PLUGIN_COST_MODES.join(', ')}`);
  if (args.mode === 'sdk1pct') installTracingSdk(0.01);
  if (args.mode === 'sdk100') installTracingSdk(1);
  observeGc();
  const sides: { config: PluginCostConfig; server: BenchServer; caller: BenchCaller }[] = [];
  for (const config of args.configs) {
    process.env.TRELLIS_BENCH_SKIP = config.skip.join(',');
    const server = await trellisKind.serve({ plugins: config.plugins });
    const caller = await trellisKind.connect({ port: server.port, connections: 1, plugins: config.plugins });
    process.env.TRELLIS_BENCH_SKIP = '';
    sides.push({ config, server, caller });
  }
  for (const { caller } of sides) await runRound(caller, 256, args.warmupMs);
  const result: PluginCostProcessResult = { slices: Object.fromEntries(args.configs.map((c) => [c.name, []])), errors: 0 };
  let errors = 0;
  let firstError: string | undefined;
  for (let i = 0; i < args.slices; i++) {
    // Rotated, so neither configuration always runs right after the other's drain.
    for (let j = 0; j < sides.length; j++) {
      const { config, caller } = sides[(i + j) % sides.length]!;
      const round = await runRound(caller, 256, args.sliceMs);
      errors += round.errors;
      firstError ??= round.firstError;
      result.slices[config.name]!.push({ cpuUs: round.client.cpuUs, calls: round.calls, gcCount: round.client.gcCount });
    }
  }
  process.stdout.write(`${JSON.stringify({ ...result, errors, firstError })}\n`);
  for (const { server, caller } of sides) {
    await caller.close();
    await server.close();
  }
  process.exit(0);
}

// plugin-cost.ts imports the types and modes: run only when started as a process.
if (require.main === module) {
  main().catch((error: Error) => {
    console.error(`plugin-cost process failed: ${error.stack ?? error.message}`);
    process.exit(1);
  });
}
