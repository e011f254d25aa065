/**
 * `pnpm bench`: Trellis side by side with @grpc/grpc-js and the raw-TCP limit, in one run. Server and
 * client of each scenario run in separate processes pinned to separate cores (taskset), with warm-up
 * and several timed rounds; the table reports medians and min–max, and the ratios the targets use.
 *
 *   node dist/main.js            full run (~5 min)
 *   node dist/main.js --quick    smoke run (~30 s): asserts completion with zero errors, never a speed
 *   --only trellis,raw           a subset of scenarios     --out DIR   where results go
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { median, ratios, svgChart, table, type PointResult } from './report.js';
import { pointKey, SCENARIOS, type Point, type Scenario } from './scenarios.js';
import type { ToWorker, WorkerArgs } from './worker.js';

interface Settings {
  warmupMs: number;
  roundMs: number;
  rounds: number;
}

const children = new Set<ChildProcess>();
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

/** Pins a process to one core when the machine has two or more (the issue measures one core each). */
function pin(pid: number, core: number): void {
  if (cpus().length < 2) return;
  try {
    execFileSync('taskset', ['-p', '-c', String(core), String(pid)], { stdio: 'ignore' });
  } catch {
    // No taskset: unpinned numbers are still comparable within the run.
  }
}

function spawnWorker(args: WorkerArgs, core: number): Promise<{ child: ChildProcess; ready: { port?: number; plugins: string[]; missing: string[] } }> {
  const child = fork(join(__dirname, 'worker.js'), [JSON.stringify(args)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  pin(child.pid!, core);
  return new Promise((resolvePromise, reject) => {
    child.once('message', (message: { type: string; message?: string; port?: number; plugins: string[]; missing: string[] }) => {
      if (message.type === 'ready') resolvePromise({ child, ready: message });
      else reject(new Error(`${args.role} for ${args.kind} failed: ${message.message}`));
    });
    child.once('exit', (code) => reject(new Error(`${args.role} for ${args.kind} exited with ${code}`)));
  });
}

function ask<T>(child: ChildProcess, message: ToWorker, reply: string): Promise<T> {
  return new Promise((resolvePromise) => {
    const onMessage = (m: { type: string }) => {
      if (m.type !== reply) return;
      child.off('message', onMessage);
      resolvePromise(m as T);
    };
    child.on('message', onMessage);
    child.send(message);
  });
}

async function serverCpu(server: ChildProcess): Promise<{ usage: NodeJS.CpuUsage; at: number }> {
  return ask(server, { type: 'cpu' }, 'cpu');
}

async function runScenario(scenario: Scenario, settings: Settings, log: (line: string) => void): Promise<{ results: PointResult[]; plugins: string[]; missing: string[] }> {
  const { child: server, ready } = await spawnWorker({ role: 'server', kind: scenario.kind, plugins: scenario.plugins, sampleRatio: scenario.sampleRatio }, 0);
  const results: PointResult[] = [];
  let clientPlugins: string[] = [];
  let missing = ready.missing;
  try {
    const byConnections = new Map<number, Point[]>();
    for (const p of scenario.points) byConnections.set(p.connections, [...(byConnections.get(p.connections) ?? []), p]);
    for (const [connections, points] of byConnections) {
      const { child: client, ready: clientReady } = await spawnWorker({ role: 'client', kind: scenario.kind, plugins: scenario.plugins, sampleRatio: scenario.sampleRatio, port: ready.port!, connections }, 1);
      clientPlugins = clientReady.plugins;
      missing = [...new Set([...missing, ...clientReady.missing])];
      for (const point of points) {
        await ask(client, { type: 'round', concurrency: point.concurrency, durationMs: settings.warmupMs }, 'result');
        const rounds: { qps: number; p50Us: number; p99Us: number; clientCpu: number; serverCpu: number; calls: number; errors: number; firstError?: string }[] = [];
        for (let i = 0; i < settings.rounds; i++) {
          const before = await serverCpu(server);
          const { result } = await ask<{ result: PointResult & { qps: number; wallMs: number; firstError?: string } }>(client, { type: 'round', concurrency: point.concurrency, durationMs: settings.roundMs }, 'result');
          const after = await serverCpu(server);
          const used = (after.usage.user - before.usage.user + after.usage.system - before.usage.system) / 1000;
          rounds.push({ ...result, serverCpu: (used / (after.at - before.at)) * 100 });
        }
        const qpsList = rounds.map((r) => r.qps);
        const point$: PointResult = {
          scenario: scenario.id,
          point: pointKey(point),
          concurrency: point.concurrency,
          connections,
          qps: { median: median(qpsList), min: Math.min(...qpsList), max: Math.max(...qpsList) },
          p50Us: median(rounds.map((r) => r.p50Us)),
          p99Us: median(rounds.map((r) => r.p99Us)),
          clientCpu: median(rounds.map((r) => r.clientCpu)),
          serverCpu: median(rounds.map((r) => r.serverCpu)),
          calls: rounds.reduce((a, r) => a + r.calls, 0),
          errors: rounds.reduce((a, r) => a + r.errors, 0),
          firstError: rounds.find((r) => r.firstError)?.firstError,
        };
        results.push(point$);
        log(`  ${scenario.label} @${point$.point}: ${Math.round(point$.qps.median)} QPS, p50 ${Math.round(point$.p50Us)} µs, p99 ${Math.round(point$.p99Us)} µs, errors ${point$.errors}${point$.firstError ? ` (${point$.firstError})` : ''}`);
      }
      client.send({ type: 'exit' } satisfies ToWorker);
    }
  } finally {
    server.send({ type: 'exit' } satisfies ToWorker);
  }
  return { results, plugins: [...new Set([...ready.plugins, ...clientPlugins])], missing };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      out: { type: 'string', default: resolve(__dirname, '..', '..', '..', 'bench-results') },
    },
  });
  const settings: Settings = values.quick ? { warmupMs: 300, roundMs: 700, rounds: 1 } : { warmupMs: 2000, roundMs: 3000, rounds: 5 };
  const only = values.only?.split(',');
  const scenarios = SCENARIOS.filter((s) => !only || only.includes(s.id));
  const log = (line: string) => console.log(line);
  log(`Trellis benchmark — ${values.quick ? 'quick smoke run' : 'full run'}: warm-up ${settings.warmupMs} ms, ${settings.rounds} × ${settings.roundMs} ms rounds; server on core 0, client on core 1`);
  const results: PointResult[] = [];
  let governance: { plugins: string[]; missing: string[] } = { plugins: [], missing: [] };
  for (const scenario of scenarios) {
    log(`${scenario.label}`);
    const run = await runScenario(scenario, settings, log);
    results.push(...run.results);
    if (scenario.plugins && governance.plugins.length === 0) governance = { plugins: run.plugins, missing: run.missing };
  }
  const ratioList = ratios(results);
  console.log(`\n${table(scenarios, results)}\n`);
  if (scenarios.some((s) => s.plugins)) {
    console.log(`governance plugins installed: ${governance.plugins.join(', ') || 'none'}`);
    if (governance.missing.length) console.log(`governance plugins not available: ${governance.missing.join('; ')}`);
  }
  for (const r of ratioList) console.log(`${r.name.padEnd(32)} ${r.value.toFixed(2).padStart(7)}${r.target ? `   target ${r.target}: ${r.met ? 'met' : 'NOT met'}` : ''}`);
  mkdirSync(values.out!, { recursive: true });
  const name = values.quick ? 'quick' : 'latest';
  const document = { date: new Date().toISOString(), node: process.version, cpus: cpus().length, quick: values.quick, settings, results, ratios: ratioList, governance };
  writeFileSync(join(values.out!, `${name}.json`), JSON.stringify(document, null, 2));
  writeFileSync(join(values.out!, `${name}.svg`), svgChart(scenarios, results, `Echo QPS by concurrency (${new Date().toISOString().slice(0, 10)}, 2 cores, server and client pinned)`));
  console.log(`\nwrote ${join(values.out!, `${name}.json`)} and ${name}.svg`);
  const errors = results.reduce((a, r) => a + r.errors, 0);
  if (errors > 0) {
    console.error(`${errors} calls failed`);
    return 1;
  }
  return 0;
}

main().then((code) => process.exit(code), (error: Error) => {
  console.error(`bench failed: ${error.stack ?? error.message}`);
  process.exit(1);
});
