/**
 * CPU per streamed message with client and server in ONE process (pin it to one core: `taskset -c 1
 * node --expose-gc apps/bench/dist/stream/cpu.js`): the steadier read-out on a shared machine, where
 * bench:stream's two processes rarely run at the same time and its rates swing 2–3× round to round.
 * One kernel-API server stream of the echo message (codec-protobuf, the handler yields plain
 * objects), `--messages` per repetition, the variants alternated `--reps` times; prints CPU µs per
 * message (client + server together, process.cpuUsage) and minor GCs, per repetition and best.
 *
 * Variants: `in-place` (the codec's encodedLength / encodeInto: each message encoded straight into
 * the connection's write batch) and `encode` (the same codec without that fast path: `encode()` into
 * a buffer per message, then copied into the batch); with `--baseline-codec DIR` (see main.ts) also
 * `baseline`: in place, with that other build of the codec — a before/after A/B of a codec change;
 * with `--baseline-core DIR` (a `dist` of @trellis/core, e.g. of the commit before a kernel change,
 * copied to packages/core/.ab/dist so that its own imports resolve) also `core-baseline`: in place,
 * RpcServer and RpcClient from that build — the same A/B for a kernel change. `--only a,b` runs only
 * those variants (e.g. to profile one with `node --cpu-prof`).
 */
import { resolve } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import * as core from '@trellis/core';
import { makeRequest } from '../payload.js';
import { baselineLoader, kernelStreamService } from './wire.js';

const { values: args } = parseArgs({ options: { messages: { type: 'string' }, reps: { type: 'string' }, 'baseline-codec': { type: 'string' }, 'baseline-core': { type: 'string' }, only: { type: 'string' } } });
if (args['baseline-codec'] !== undefined) process.env.TRELLIS_BASELINE_CODEC = resolve(args['baseline-codec']);
const baseline = baselineLoader();
type Kernel = Pick<typeof core, 'RpcClient' | 'RpcServer'>;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a build chosen at run time
const baselineCore = args['baseline-core'] === undefined ? undefined : require(resolve(args['baseline-core'], 'index.js')) as Kernel;
type Variant = 'in-place' | 'encode' | 'baseline' | 'core-baseline';
const ALL: readonly Variant[] = [
  'in-place',
  ...(baseline === undefined ? [] : ['baseline' as const]),
  ...(baselineCore === undefined ? [] : ['core-baseline' as const]),
  'encode',
];
const VARIANTS = args.only === undefined ? ALL : ALL.filter((v) => args.only!.split(',').includes(v));
const messages = Number(args.messages ?? 300_000);
const reps = Number(args.reps ?? 6);

let gcs = 0;
new PerformanceObserver((list) => (gcs += list.getEntries().length)).observe({ entryTypes: ['gc'] });

async function once(variant: Variant): Promise<{ cpuUs: number; gcs: number }> {
  const definition = kernelStreamService(variant !== 'encode', variant === 'baseline' ? baseline : undefined);
  const { RpcClient, RpcServer } = variant === 'core-baseline' ? baselineCore! : core;
  const message = makeRequest(1);
  const server = new RpcServer({ host: '127.0.0.1', port: 0 }).addService(definition, {
    async *stream(request: { id?: string }) {
      for (let i = Number(request.id); i > 0; i--) yield message;
    },
  });
  await server.start();
  const client = new RpcClient({ service: definition, addresses: [`127.0.0.1:${server.port}`], timeoutMs: 600_000 });
  // Warm-up: the JIT and the connection.
  for await (const m of client.stream('Stream', { id: '20000' })) void m;
  global.gc?.();
  const gc0 = gcs;
  const cpu0 = process.cpuUsage();
  let n = 0;
  for await (const m of client.stream('Stream', { id: String(messages) })) if (m !== undefined) n++;
  const cpu = process.cpuUsage(cpu0);
  const result = { cpuUs: (cpu.user + cpu.system) / n, gcs: gcs - gc0 };
  await client.close();
  await server.close({ graceMs: 100 });
  return result;
}

async function main(): Promise<void> {
  console.log(`stream CPU per message, client and server in one process: ${messages.toLocaleString('en-US')} messages × ${reps} repetitions per variant, alternated`);
  const best: Record<Variant, number> = { 'in-place': Infinity, encode: Infinity, baseline: Infinity, 'core-baseline': Infinity };
  const all: Record<Variant, number[]> = { 'in-place': [], encode: [], baseline: [], 'core-baseline': [] };
  for (let rep = 0; rep < reps; rep++) {
    for (const variant of VARIANTS) {
      const r = await once(variant);
      best[variant] = Math.min(best[variant], r.cpuUs);
      all[variant].push(r.cpuUs);
      console.log(`  ${rep + 1} ${variant.padEnd(13)} ${r.cpuUs.toFixed(3)} µs/message (client + server), ${r.gcs} GCs`);
    }
  }
  console.log(`best: in-place ${best['in-place'].toFixed(3)} µs, encode ${best.encode.toFixed(3)} µs: ${(best['in-place'] / best.encode).toFixed(2)}×`);
  if (baseline !== undefined) console.log(`in-place ÷ baseline codec build: ${best['in-place'].toFixed(3)} / ${best.baseline.toFixed(3)} µs = ${(best['in-place'] / best.baseline).toFixed(2)}×`);
  if (baselineCore !== undefined) {
    const a = median(all['in-place']);
    const b = median(all['core-baseline']);
    console.log(`in-place ÷ baseline core build: best ${best['in-place'].toFixed(3)} / ${best['core-baseline'].toFixed(3)} µs = ${(best['in-place'] / best['core-baseline']).toFixed(2)}×; median ${a.toFixed(3)} / ${b.toFixed(3)} µs = ${(a / b).toFixed(2)}×`);
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted.length === 0 ? NaN : sorted[sorted.length >> 1]!;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
