/**
 * `pnpm bench:workers`: what `RpcServer({ workers })` buys and costs, as ratios within one run.
 *   1. A handler burning ≈ 200 µs of CPU per call: QPS with 2 workers ÷ QPS with 1 (target ≥ 1.7×).
 *   2. A bare echo: the provider's CPU per call (primary + workers, from /proc) through 1 worker ÷
 *      the single-process server's (target ≤ 1.15×).
 *   3. For the cluster-vs-threads decision: the CPU one worker_threads hop would add per call.
 * The callers run in this process, on the same machine. Options: --seconds N (default 3).
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
  readonly calls: number;
}

const seconds = Number(process.argv[process.argv.indexOf('--seconds') + 1] || 3) || 3;
const CONCURRENCY = 64;

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

/** User + system CPU of the processes, µs, from /proc/PID/stat (clock ticks of 10 ms). */
function cpuUs(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
  }
  return ticks * 10_000;
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
  const cpuBefore = cpuUs(pids);
  const started = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const elapsed = (performance.now() - started) / 1000;
  const counted = calls;
  const cpu = cpuUs(pids) - cpuBefore;
  running = false;
  await Promise.all(loops);
  await client.close();
  return { qps: counted / elapsed, providerCores: cpu / 1e6 / elapsed, providerCpuUsPerCall: cpu / counted, calls: counted };
}

async function measure(workers: number, method: 'Echo' | 'Burn'): Promise<RunResult> {
  const provider = await startProvider(workers);
  try {
    return await load(provider.port, method, provider.pids);
  } finally {
    await stopProvider(provider);
  }
}

async function main(): Promise<void> {
  const label = (w: number) => (w === 0 ? 'single process' : `${w} worker${w > 1 ? 's' : ''}`);
  const row = (name: string, r: RunResult) =>
    console.log(`  ${name.padEnd(16)} ${r.qps.toFixed(0).padStart(7)} calls/s   provider CPU ${r.providerCpuUsPerCall.toFixed(1).padStart(6)} µs/call, ${r.providerCores.toFixed(2)} cores`);

  console.log(`workers bench: ${seconds} s per run, ${CONCURRENCY} callers in this process, same machine`);
  // On a shared machine the ratios mean little when the load is above the core count: show it.
  console.log(`load average at start: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log('Burn (≈ 200 µs of CPU per call):');
  const burn1 = await measure(1, 'Burn');
  row(label(1), burn1);
  const burn2 = await measure(2, 'Burn');
  row(label(2), burn2);
  console.log('Echo:');
  const echo0 = await measure(0, 'Echo');
  row(label(0), echo0);
  const echo1 = await measure(1, 'Echo');
  row(label(1), echo1);
  console.log(`load average at end:   ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const hop = await threadHopCpuUs(200_000, CONCURRENCY);
  const scaling = burn2.qps / burn1.qps;
  const overhead = echo1.providerCpuUsPerCall / echo0.providerCpuUsPerCall;
  console.log('');
  console.log(`Burn QPS, 2 workers ÷ 1 worker:                     ${scaling.toFixed(2)}× (target ≥ 1.7)`);
  // Scaling needs a second free core: when the 2 workers got well under 2 cores, the machine was busy.
  console.log(`  cores the provider got: ${burn1.providerCores.toFixed(2)} with 1 worker, ${burn2.providerCores.toFixed(2)} with 2`);
  console.log(`Echo provider CPU per call, 1 worker ÷ single:      ${overhead.toFixed(2)}× (target ≤ 1.15)`);
  console.log(`worker_threads hop (post + answer, CPU per call):   ${hop.toFixed(1)} µs = ${(hop / echo0.providerCpuUsPerCall * 100).toFixed(0)} % of a single-process echo`);
}

main().then(
  () => process.exit(0), // the clients' redial timers and the thread pool may outlive the run
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
