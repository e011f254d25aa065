/**
 * `pnpm bench:workers`: what `RpcServer({ workers })` buys and costs, as ratios within one run.
 *   1. A handler burning ≈ 200 µs of CPU per call: QPS with 2 workers ÷ QPS with 1 (target ≥ 1.7×).
 *   2. A bare echo: the provider's CPU per call (primary + workers, from /proc) through 1 worker ÷
 *      the single-process server's (target ≤ 1.15×).
 *   3. For the cluster-vs-threads decision: the CPU one worker_threads hop would add per call.
 * The callers run in this process, on the same machine; each shape runs once per round, the rounds
 * interleaved (ratios within a round, then their median). Options: --seconds N (3), --rounds N (3),
 * --callers N (64).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { RpcClient } from '@trellis/core';
import { BENCH_SERVICE } from './provider.js';
import { threadHopCpuUs } from './thread-hop.js';

interface Provider {
  readonly child: ChildProcess;
  readonly port: number;
  readonly pids: readonly number[];
}

interface RunResult {
  readonly qps: number;
  /** Provider CPU ÷ wall time: how many cores the provider actually got (2 workers can use at most 2). */
  readonly providerCores: number;
  readonly providerCpuUsPerCall: number;
  /** Each provider process's share of the provider's CPU: primary first, then the workers. */
  readonly perProcessShare: readonly number[];
  /** The callers' (this process's) CPU per call: the load generator shares the two cores. */
  readonly callerCpuUsPerCall: number;
  readonly calls: number;
}

const arg = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(name);
  return (at >= 0 ? Number(process.argv[at + 1]) : fallback) || fallback;
};
const seconds = arg('--seconds', 3);
const rounds = arg('--rounds', 3);
/** Closed-loop callers: each worker needs calls queued while the callers wait for a core. */
const CONCURRENCY = arg('--callers', 64);

async function startProvider(workers: number): Promise<Provider> {
  const child = fork(join(__dirname, 'provider.js'), [], { env: { ...process.env, BENCH_WORKERS: String(workers) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = await new Promise<{ port: number; pids: number[] }>((resolve, reject) => {
    child.on('message', (m: { ready?: { port: number; pids: number[] } }) => m.ready && resolve(m.ready));
    child.once('exit', (code) => reject(new Error(`provider exited (${code}) before it was ready`)));
  });
  return { child, ...ready };
}

async function stopProvider(provider: Provider): Promise<void> {
  const exited = new Promise((resolve) => provider.child.once('exit', resolve));
  provider.child.send('close');
  await exited;
}

/** User + system CPU of each process, µs, from /proc/PID/stat (clock ticks of 10 ms). */
function cpuUs(pids: readonly number[]): number[] {
  return pids.map((pid) => {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000; // utime, stime (fields 14 and 15 of stat)
  });
}

async function load(port: number, method: 'Echo' | 'Burn', pids: readonly number[]): Promise<RunResult> {
  const client = new RpcClient({ service: BENCH_SERVICE, addresses: [`127.0.0.1:${port}`], timeoutMs: 10_000, tcp: { connectionsPerEndpoint: 8 } });
  const request = { message: 'hello' };
  let calls = 0;
  let counting = false;
  let running = true;
  const loop = async (): Promise<void> => {
    while (running) {
      await client.invoke(method, request);
      if (counting) calls++;
    }
  };
  const loops = Array.from({ length: CONCURRENCY }, loop);
  await new Promise((r) => setTimeout(r, 1000)); // warm-up: connections, JIT
  counting = true;
  const before = cpuUs(pids);
  const callerBefore = process.cpuUsage();
  const started = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const elapsed = (performance.now() - started) / 1000;
  const counted = calls;
  const perProcess = cpuUs(pids).map((us, i) => us - before[i]!);
  const caller = process.cpuUsage(callerBefore);
  running = false;
  await Promise.all(loops);
  await client.close();
  const cpu = perProcess.reduce((a, b) => a + b, 0);
  return {
    qps: counted / elapsed,
    providerCores: cpu / 1e6 / elapsed,
    providerCpuUsPerCall: cpu / counted,
    perProcessShare: perProcess.map((us) => (cpu > 0 ? us / cpu : 0)),
    callerCpuUsPerCall: (caller.user + caller.system) / counted,
    calls: counted,
  };
}

async function measure(workers: number, method: 'Echo' | 'Burn'): Promise<RunResult> {
  const provider = await startProvider(workers);
  try {
    return await load(provider.port, method, provider.pids);
  } finally {
    await stopProvider(provider);
  }
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function main(): Promise<void> {
  const label = (w: number) => (w === 0 ? 'single process' : `${w} worker${w > 1 ? 's' : ''}`);
  const row = (name: string, r: RunResult) =>
    console.log(`    ${name.padEnd(15)} ${r.qps.toFixed(0).padStart(7)} calls/s   provider ${r.providerCpuUsPerCall.toFixed(1).padStart(6)} µs/call on ${r.providerCores.toFixed(2)} cores ` +
      `(${r.perProcessShare.map((s) => `${(s * 100).toFixed(0)}%`).join(' / ')})   callers ${r.callerCpuUsPerCall.toFixed(1)} µs/call`);

  console.log(`workers bench: ${rounds} interleaved rounds, ${seconds} s per run, ${CONCURRENCY} callers in this process, same 2-core machine`);
  console.log('  (provider CPU split: primary / worker 1 / worker 2; the primary only accepts connections)');
  // On a shared machine the ratios mean little when the load is above the core count: show it.
  console.log(`load average at start: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const scalings: number[] = [];
  const overheads: number[] = [];
  const cores: [number, number][] = [];
  for (let round = 1; round <= rounds; round++) {
    // Interleaved, and the order flipped every other round: a neighbour's burst of load hits each
    // shape alike instead of whichever ran at that moment.
    const flip = round % 2 === 0;
    console.log(`  round ${round}:`);
    const burn: Record<number, RunResult> = {};
    for (const w of flip ? [2, 1] : [1, 2]) row(`Burn ${label(w)}`, (burn[w] = await measure(w, 'Burn')));
    const echo: Record<number, RunResult> = {};
    for (const w of flip ? [1, 0] : [0, 1]) row(`Echo ${label(w)}`, (echo[w] = await measure(w, 'Echo')));
    scalings.push(burn[2]!.qps / burn[1]!.qps);
    overheads.push(echo[1]!.providerCpuUsPerCall / echo[0]!.providerCpuUsPerCall);
    cores.push([burn[1]!.providerCores, burn[2]!.providerCores]);
    console.log(`    → Burn 2 ÷ 1 workers ${scalings.at(-1)!.toFixed(2)}×, echo CPU per call 1 worker ÷ single ${overheads.at(-1)!.toFixed(2)}×`);
  }
  console.log(`load average at end:   ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const hop = await threadHopCpuUs(200_000, CONCURRENCY);
  console.log('');
  console.log(`Burn QPS, 2 workers ÷ 1 worker:                     median ${median(scalings).toFixed(2)}× of ${scalings.map((r) => r.toFixed(2)).join(', ')} (target ≥ 1.7)`);
  // Scaling needs a second free core: when the 2 workers got well under 2 cores, the machine was busy.
  console.log(`  cores the provider got (1 worker → 2): ${cores.map(([a, b]) => `${a.toFixed(2)} → ${b.toFixed(2)}`).join(', ')}`);
  console.log(`Echo provider CPU per call, 1 worker ÷ single:      median ${median(overheads).toFixed(2)}× of ${overheads.map((r) => r.toFixed(2)).join(', ')} (target ≤ 1.15)`);
  console.log(`worker_threads hop (post + answer, CPU per call):   ${hop.toFixed(1)} µs`);
}

main().then(
  () => process.exit(0), // the clients' redial timers and the thread pool may outlive the run
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
