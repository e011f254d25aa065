/**
 * CPU per call of the governance plugins, client and server in one process, 256 calls in flight:
 * `node dist/plugin-cost.js [bare|nosdk|sdk1pct|sdk100]`; with TRELLIS_BENCH_SKIP=@trellis/x the
 * plugin is left out, so the difference to `nosdk` is its cost (docs/performance.md).
 */
import { installTracingSdk } from './kinds/tracing-sdk.js';
import { trellisKind } from './kinds/trellis.js';
import { runRound } from './load.js';

async function main(): Promise<void> {
  const mode = process.argv[2] ?? 'nosdk';
  if (mode === 'sdk1pct') installTracingSdk(0.01);
  if (mode === 'sdk100') installTracingSdk(1);
  const plugins = mode !== 'bare';
  const server = await trellisKind.serve({ plugins });
  const caller = await trellisKind.connect({ port: server.port, connections: 1, plugins });
  await runRound(caller, 256, 3000);
  // The process holds both sides, so its CPU per call is the cost of a call on both sides.
  const round = await runRound(caller, 256, 6000);
  console.log(`${mode}${process.env.TRELLIS_BENCH_SKIP ? ` without ${process.env.TRELLIS_BENCH_SKIP}` : ''}: ${(round.client.cpuUs / round.calls).toFixed(2)} µs CPU per call (both sides, ${round.calls} calls, ${round.errors} errors)`);
  await caller.close();
  await server.close();
  process.exit(0);
}

void main();
