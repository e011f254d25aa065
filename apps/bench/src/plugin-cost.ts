/**
 * CPU per call of the governance plugins, client and server in one process, 256 calls in flight:
 * `node dist/plugin-cost.js [bare|nosdk|sdk1pct|sdk100]`; with TRELLIS_BENCH_SKIP=@trellis/x the
 * plugin is left out, so the difference to `nosdk` is its cost (docs/performance.md).
 */
import { installTracingSdk } from './governance.js';
import { trellisKind } from './kinds/trellis.js';

async function main(): Promise<void> {
  const mode = process.argv[2] ?? 'nosdk';
  if (mode === 'sdk1pct') installTracingSdk(0.01);
  if (mode === 'sdk100') installTracingSdk(1);
  const plugins = mode !== 'bare';
  const server = await trellisKind.serve({ plugins });
  const caller = await trellisKind.connect({ port: server.port, connections: 1, plugins });
  let id = 0;
  const run = async (n: number) => {
    let done = 0;
    await Promise.all(Array.from({ length: 256 }, async () => {
      while (done < n) {
        done++;
        await caller.call(id++);
      }
    }));
  };
  await run(40_000);
  const before = process.cpuUsage();
  const calls = 150_000;
  await run(calls);
  const used = process.cpuUsage(before);
  console.log(`${mode}${process.env.TRELLIS_BENCH_SKIP ? ` without ${process.env.TRELLIS_BENCH_SKIP}` : ''}: ${((used.user + used.system) / calls).toFixed(2)} µs CPU per call (both sides)`);
  await caller.close();
  await server.close();
  process.exit(0);
}

void main();
