/**
 * `pnpm bench`: Trellis side by side with @grpc/grpc-js and the raw-TCP limit, in one run. Server and
 * client of each scenario run in separate processes pinned to separate cores (taskset), all driven by
 * the same callback closed loop (load.ts). The rounds of the scenarios sharing a point are
 * interleaved (A B C A B C …), so a neighbour's load on a shared machine hits every scenario alike and
 * the ratios stay meaningful; the table reports medians and min–max, and the ratios the targets use.
 *
 *   node dist/main.js                 full run (~9 min)
 *   node dist/main.js --quick         smoke run (~35 s): asserts completion with zero errors, never a speed
 *   --only trellis,tight-raw          a subset of scenarios      --out DIR   where results go
 *   --points 32,256                   a subset of points (1, 32, 256, 256x4)
 *   --rounds N --round-ms MS --warmup-ms MS                     override the round settings
 *   --profile                         CPU and allocation profiles of both sides at 32 and 256 in flight
 *                                     (default: trellis and tight-raw), summarised by package/function
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { forkReady } from '@trellis/testkit';
import { measureCodecCost, type CodecCost } from './codec-cost.js';
import type { RoundResult } from './load.js';
import { between, type IntervalStats, type StatsSnapshot } from './process-stats.js';
import { compareCategories, summarizeFile, topFunctions, type ProfileSummary } from './profile-summary.js';
import { HEAP_SAMPLE_BYTES, CPU_SAMPLE_US, type ProfileMode } from './profiler.js';
import { median, perCallTable, ratios, sideResult, socketsPerCall, svgChart, table, type PointResult, type SideResult } from './report.js';
import { pointKey, PROFILE_POINTS, PROFILE_SCENARIOS, SCENARIOS, type Point, type Scenario } from './scenarios.js';
import type { FromWorker, ProbeName, ProbeResult, ToWorker, WorkerArgs } from './worker.js';

interface Settings {
  warmupMs: number;
  roundMs: number;
  rounds: number;
  /** Length of each diagnostic round (promise count, socket probe). */
  probeMs: number;
}

/**
 * Pins a process — every thread of it, V8's GC and compiler helpers included (`-a`) — to one core when
 * the machine has two or more (the issue measures one core each). Threads started later inherit the
 * main thread's affinity. Pinning the main thread alone would let GC helpers run on the peer's core.
 */
function pin(pid: number, core: number): void {
  if (cpus().length < 2) return;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(core), String(pid)], { stdio: 'ignore' });
  } catch {
    // No taskset: unpinned numbers are still comparable within the run.
  }
}

interface Worker {
  readonly child: ChildProcess;
  readonly ready: Extract<FromWorker, { type: 'ready' }>;
}

async function spawnWorker(args: WorkerArgs, core: number): Promise<Worker> {
  const { child, ready } = forkReady<Extract<FromWorker, { type: 'ready' }>>(join(__dirname, 'worker.js'), [JSON.stringify(args)], { label: `${args.role} for ${args.kind}` });
  pin(child.pid!, core);
  return { child, ready: await ready };
}

function ask<T extends FromWorker['type']>(worker: Worker, message: ToWorker, reply: T): Promise<Extract<FromWorker, { type: T }>> {
  return new Promise((resolvePromise, reject) => {
    const onExit = (code: number | null) => reject(new Error(`worker exited with ${code} while asked for ${message.type}`));
    const onMessage = (m: FromWorker) => {
      if (m.type !== reply) return;
      worker.child.off('message', onMessage);
      worker.child.off('exit', onExit);
      resolvePromise(m as Extract<FromWorker, { type: T }>);
    };
    worker.child.on('message', onMessage);
    worker.child.once('exit', onExit);
    worker.child.send(message);
  });
}

const stats = async (worker: Worker): Promise<StatsSnapshot> => (await ask(worker, { type: 'stats' }, 'stats')).snapshot;

/** One scenario's processes: its server for the whole run, a client per connection count. */
class Pair {
  client: Worker | undefined;
  connections = 0;
  plugins: string[];
  missing: string[];

  constructor(readonly scenario: Scenario, readonly server: Worker) {
    this.plugins = server.ready.plugins;
    this.missing = server.ready.missing;
  }

  async connect(connections: number): Promise<void> {
    await this.disconnect();
    const { kind, plugins, sampleRatio } = this.scenario;
    this.client = await spawnWorker({ role: 'client', kind, plugins, sampleRatio, port: this.server.ready.port!, connections }, 1);
    this.connections = connections;
    this.plugins = [...new Set([...this.plugins, ...this.client.ready.plugins])];
    this.missing = [...new Set([...this.missing, ...this.client.ready.missing])];
    const { mismatch } = await ask(this.client, { type: 'check' }, 'checked');
    if (mismatch) throw new Error(`${this.scenario.label}: the echo came back wrong: ${mismatch}`);
  }

  async disconnect(): Promise<void> {
    if (!this.client) return;
    const client = this.client;
    this.client = undefined;
    this.connections = 0;
    const exited = new Promise((r) => client.child.once('exit', r));
    client.child.send({ type: 'exit' } satisfies ToWorker);
    await exited;
  }

  /** A client round bracketed by server snapshots; optionally a probe or a profile on both sides. */
  async round(
    concurrency: number, durationMs: number,
    extra: { probe?: ProbeName; profile?: { mode: ProfileMode; client: string; server: string } } = {},
  ): Promise<{ round: RoundResult; server: IntervalStats; probe: { client: ProbeResult; server: ProbeResult } }> {
    if (extra.probe) await ask(this.server, { type: 'probe-start', probe: extra.probe }, 'probe-started');
    if (extra.profile) await ask(this.server, { type: 'profile-start', mode: extra.profile.mode }, 'profile-started');
    const before = await stats(this.server);
    const reply = await ask(this.client!, {
      type: 'round', concurrency, durationMs, probe: extra.probe,
      profile: extra.profile ? { mode: extra.profile.mode, path: extra.profile.client } : undefined,
    }, 'result');
    const after = await stats(this.server);
    if (extra.profile) await ask(this.server, { type: 'profile-stop', mode: extra.profile.mode, path: extra.profile.server }, 'profiled');
    const serverProbe: ProbeResult = extra.probe ? await ask(this.server, { type: 'probe-stop' }, 'probe') : {};
    const { promises, sockets } = reply;
    return { round: reply.result, server: between(before, after), probe: { client: { promises, sockets }, server: serverProbe } };
  }

  async close(): Promise<void> {
    await this.disconnect();
    const exited = new Promise((r) => this.server.child.once('exit', r));
    this.server.child.send({ type: 'exit' } satisfies ToWorker);
    await exited;
  }
}

/** A scenario's server process (core 0), its client not yet connected. */
async function startPair(scenario: Scenario): Promise<Pair> {
  const server = await spawnWorker({ role: 'server', kind: scenario.kind, plugins: scenario.plugins, sampleRatio: scenario.sampleRatio }, 0);
  return new Pair(scenario, server);
}

async function startPairs(scenarios: readonly Scenario[]): Promise<Map<string, Pair>> {
  const pairs = new Map<string, Pair>();
  // One at a time: on two cores, starting many Node processes at once only slows each of them.
  for (const scenario of scenarios) pairs.set(scenario.id, await startPair(scenario));
  return pairs;
}

/** Points in the order they run: one connection first (1, 32, 256), then more connections. */
function orderedPoints(scenarios: readonly Scenario[]): Point[] {
  const points = new Map<string, Point>();
  for (const s of scenarios) for (const p of s.points) points.set(pointKey(p), p);
  return [...points.values()].sort((a, b) => a.connections - b.connections || a.concurrency - b.concurrency);
}

const load1 = () => loadavg()[0]!;

async function measurePoint(pairs: readonly Pair[], point: Point, settings: Settings, log: (line: string) => void): Promise<PointResult[]> {
  const loadStart = load1();
  for (const pair of pairs) await pair.round(point.concurrency, settings.warmupMs);
  const rounds = new Map<Pair, { round: RoundResult; server: IntervalStats }[]>(pairs.map((p) => [p, []]));
  for (let i = 0; i < settings.rounds; i++) {
    for (const pair of pairs) rounds.get(pair)!.push(await pair.round(point.concurrency, settings.roundMs));
  }
  const results: PointResult[] = [];
  for (const pair of pairs) {
    const list = rounds.get(pair)!;
    // Diagnostic rounds, never timed: promises per call (a promise hook slows every promise), then
    // batches in/out of the sockets and the event-loop turns before a batch's answers leave.
    const promiseRound = await pair.round(point.concurrency, settings.probeMs, { probe: 'promises' });
    const socketRound = await pair.round(point.concurrency, settings.probeMs, { probe: 'sockets' });
    const qpsList = list.map((r) => r.round.qps);
    const side = (pick: (r: { round: RoundResult; server: IntervalStats }) => IntervalStats): SideResult =>
      sideResult(list.map((r) => ({ stats: pick(r), calls: r.round.calls })));
    const calls = (r: { round: RoundResult }) => Math.max(1, r.round.calls);
    const result: PointResult = {
      scenario: pair.scenario.id,
      point: pointKey(point),
      concurrency: point.concurrency,
      connections: point.connections,
      qps: { median: median(qpsList), min: Math.min(...qpsList), max: Math.max(...qpsList) },
      p50Us: median(list.map((r) => r.round.p50Us)),
      p99Us: median(list.map((r) => r.round.p99Us)),
      clientCpu: median(list.map((r) => r.round.client.cpuPct)),
      serverCpu: median(list.map((r) => r.server.cpuPct)),
      client: side((r) => r.round.client),
      server: side((r) => r.server),
      calls: list.reduce((a, r) => a + r.round.calls, 0),
      errors: list.reduce((a, r) => a + r.round.errors, 0) + promiseRound.round.errors + socketRound.round.errors,
      firstError: list.find((r) => r.round.firstError)?.round.firstError ?? promiseRound.round.firstError ?? socketRound.round.firstError,
      promisesPerCall: {
        client: (promiseRound.probe.client.promises ?? 0) / calls(promiseRound),
        server: (promiseRound.probe.server.promises ?? 0) / calls(promiseRound),
      },
      sockets: {
        client: socketsPerCall(socketRound.probe.client.sockets, calls(socketRound)),
        server: socketsPerCall(socketRound.probe.server.sockets, calls(socketRound)),
      },
      loadAverage: [loadStart, load1()],
    };
    results.push(result);
    log(`  ${pair.scenario.label} @${result.point}: ${Math.round(result.qps.median)} QPS, p50 ${Math.round(result.p50Us)} µs, ` +
      `CPU/call ${result.client.cpuUsPerCall.toFixed(1)} + ${result.server.cpuUsPerCall.toFixed(1)} µs, ELU ${result.client.elu.toFixed(2)}/${result.server.elu.toFixed(2)}, ` +
      `errors ${result.errors}${result.firstError ? ` (${result.firstError})` : ''}`);
  }
  log(`  (load average ${loadStart.toFixed(1)} → ${load1().toFixed(1)})`);
  return results;
}

async function benchmark(scenarios: readonly Scenario[], settings: Settings, log: (line: string) => void) {
  const pairs = await startPairs(scenarios);
  const results: PointResult[] = [];
  try {
    for (const point of orderedPoints(scenarios)) {
      const sharing = scenarios.filter((s) => s.points.some((p) => pointKey(p) === pointKey(point))).map((s) => pairs.get(s.id)!);
      for (const pair of sharing) if (pair.connections !== point.connections) await pair.connect(point.connections);
      log(`@${pointKey(point)} (${sharing.map((p) => p.scenario.id).join(', ')}; rounds interleaved)`);
      results.push(...await measurePoint(sharing, point, settings, log));
    }
  } finally {
    for (const pair of pairs.values()) await pair.close();
  }
  const governance = [...pairs.values()].find((p) => p.scenario.plugins);
  return { results, governance: governance ? { plugins: governance.plugins, missing: governance.missing } : { plugins: [], missing: [] } };
}

interface ProfileRecord {
  /** The unprofiled round and diagnostic rounds just before the profiles. */
  readonly result: PointResult;
  readonly scenario: string;
  readonly point: string;
  readonly qps: number;
  readonly calls: { cpu: number; heap: number };
  readonly files: Record<'clientCpu' | 'serverCpu' | 'clientHeap' | 'serverHeap', string>;
  readonly cpu: { client: ProfileSummary; server: ProfileSummary };
  readonly heap: { client: ProfileSummary; server: ProfileSummary };
  readonly client: IntervalStats;
  readonly server: IntervalStats;
}

/**
 * --profile: CPU then allocation profiles of both sides, one scenario and point at a time. Each
 * session gets a **fresh server and client**, started just before it and stopped after it, so every
 * kind's processes have the same history when profiled: started, warmed up, measured. Servers kept up
 * for the whole run (as the interleaved benchmark keeps them) would sit idle for 15–20 s while the
 * other kinds are profiled, and V8 shrinks an idle process's young generation at its first scavenge
 * after the gap (docs/performance.md, "Governance path, session 11"): the GC columns of the kinds
 * profiled later would then differ for a reason that is the bench's order, not the kind.
 */
async function profile(scenarios: readonly Scenario[], settings: Settings, dir: string, log: (line: string) => void): Promise<ProfileRecord[]> {
  mkdirSync(dir, { recursive: true });
  const records: ProfileRecord[] = [];
  for (const point of PROFILE_POINTS) {
    for (const scenario of scenarios) {
      if (!scenario.points.some((p) => pointKey(p) === pointKey(point))) continue;
      const pair = await startPair(scenario);
      try {
        await pair.connect(point.connections);
        const base = join(dir, `${scenario.id}@${pointKey(point)}`);
        const files = {
          clientCpu: `${base}-client.cpuprofile`, serverCpu: `${base}-server.cpuprofile`,
          clientHeap: `${base}-client.heapprofile`, serverHeap: `${base}-server.heapprofile`,
        };
        // Warm-up, one timed round and the diagnostic rounds, as in a normal run, for context.
        const [result] = await measurePoint([pair], point, { ...settings, rounds: 1 }, log);
        const cpu = await pair.round(point.concurrency, settings.roundMs, { profile: { mode: 'cpu', client: files.clientCpu, server: files.serverCpu } });
        const heap = await pair.round(point.concurrency, settings.roundMs, { profile: { mode: 'heap', client: files.clientHeap, server: files.serverHeap } });
        const errors = cpu.round.errors + heap.round.errors;
        if (errors > 0) throw new Error(`${scenario.label} @${pointKey(point)}: ${errors} calls failed while profiling (${cpu.round.firstError ?? heap.round.firstError})`);
        records.push({
          result: result!,
          scenario: scenario.id,
          point: pointKey(point),
          qps: cpu.round.qps,
          calls: { cpu: cpu.round.calls, heap: heap.round.calls },
          files,
          cpu: {
            client: summarizeFile(files.clientCpu, cpu.round.calls, 25, cpu.round.client.mainThreadCpuUs),
            server: summarizeFile(files.serverCpu, cpu.round.calls, 25, cpu.server.mainThreadCpuUs),
          },
          heap: { client: summarizeFile(files.clientHeap, heap.round.calls, 25), server: summarizeFile(files.serverHeap, heap.round.calls, 25) },
          client: cpu.round.client,
          server: cpu.server,
        });
        log(`  profiled ${scenario.label} @${pointKey(point)}: ${Math.round(cpu.round.qps)} QPS under the profiler, ${cpu.round.calls} calls`);
      } finally {
        await pair.close();
      }
    }
  }
  return records;
}

function profileReport(records: readonly ProfileRecord[], labels: Map<string, string>): string {
  const out: string[] = [];
  for (const point of new Set(records.map((r) => r.point))) {
    const here = records.filter((r) => r.point === point);
    const columns = (what: 'cpu' | 'heap') => here.flatMap((r) => [
      { label: `${r.scenario} client`, summary: r[what].client },
      { label: `${r.scenario} server`, summary: r[what].server },
    ]);
    out.push(`\n=== ${point} in flight, one connection: ${here.map((r) => `${labels.get(r.scenario)} ${Math.round(r.qps)} QPS`).join(', ')} (under the profiler) ===`);
    out.push(`\nMain-thread CPU per call, split by the profile's samples (${CPU_SAMPLE_US} µs sampling; builtins charged to their JS caller)\n${compareCategories(columns('cpu'))}`);
    out.push(`\nAllocated bytes per call (sampled every ~${HEAP_SAMPLE_BYTES} B, objects that died young included)\n${compareCategories(columns('heap'))}`);
    for (const r of here) {
      out.push(`\n${topFunctions(`${r.scenario} @${point} client`, r.cpu.client, 15)}`);
      out.push(`\n${topFunctions(`${r.scenario} @${point} server`, r.cpu.server, 15)}`);
      out.push(`\n${topFunctions(`${r.scenario} @${point} client`, r.heap.client, 10)}`);
      out.push(`\n${topFunctions(`${r.scenario} @${point} server`, r.heap.server, 10)}`);
    }
  }
  return out.join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      only: { type: 'string' },
      points: { type: 'string' },
      rounds: { type: 'string' },
      'round-ms': { type: 'string' },
      'warmup-ms': { type: 'string' },
      out: { type: 'string', default: resolve(__dirname, '..', '..', '..', 'bench-results') },
    },
  });
  const settings: Settings = values.quick
    ? { warmupMs: 150, roundMs: 400, rounds: 1, probeMs: 150 }
    : { warmupMs: 2000, roundMs: 3000, rounds: 5, probeMs: 1000 };
  if (values.rounds) settings.rounds = Number(values.rounds);
  if (values['round-ms']) settings.roundMs = Number(values['round-ms']);
  if (values['warmup-ms']) settings.warmupMs = Number(values['warmup-ms']);
  const only = values.only?.split(',') ?? (values.profile ? PROFILE_SCENARIOS : undefined);
  // --points 32,256x4: only these points of each scenario (keys as the table prints them).
  const pointFilter = values.points?.split(',');
  const scenarios = SCENARIOS.filter((s) => !only || only.includes(s.id))
    .map((s) => (pointFilter ? { ...s, points: s.points.filter((p) => pointFilter.includes(pointKey(p))) } : s))
    .filter((s) => s.points.length > 0);
  if (only && only.some((id) => !SCENARIOS.some((s) => s.id === id))) {
    console.error(`unknown scenario in --only: ${only.filter((id) => !SCENARIOS.some((s) => s.id === id)).join(', ')}; known: ${SCENARIOS.map((s) => s.id).join(', ')}`);
    return 2;
  }
  const log = (line: string) => console.log(line);
  const out = values.out!;
  mkdirSync(out, { recursive: true });
  const loadBefore = load1();
  const codec: CodecCost = values.quick ? measureCodecCost(20_000, 3) : measureCodecCost();
  log(`codec, per echo message: Trellis ${codec.trellisNs.toFixed(0)} ns encode+decode, protobufjs encode()/decode() ${codec.tightNs.toFixed(0)} ns ` +
    `→ conversion ≈ ${codec.extraUsPerCallBothSides.toFixed(2)} µs per call, both sides`);

  if (values.profile) {
    log(`Trellis profile — ${values.quick ? 'quick' : 'full'}: warm-up ${settings.warmupMs} ms, then one ${settings.roundMs} ms round each for CPU and for allocations; ` +
      `server on core 0, client on core 1; load average ${loadBefore.toFixed(1)}`);
    const dir = join(out, 'profiles');
    const records = await profile(scenarios, settings, dir, log);
    const labels = new Map(scenarios.map((s) => [s.id, s.label]));
    const results = records.map((r) => r.result);
    const text = `\nWithout the profiler (one round each, just before the profiles):\n${table(scenarios, results)}\n\n${perCallTable(scenarios, results)}\n` +
      profileReport(records, labels);
    console.log(text);
    const loadAfter = load1();
    writeFileSync(join(dir, 'summary.txt'), `${text}\n`);
    writeFileSync(join(dir, 'summary.json'), JSON.stringify({ date: new Date().toISOString(), node: process.version, settings, loadAverage: [loadBefore, loadAfter], codec, records }, null, 2));
    log(`\nload average ${loadBefore.toFixed(1)} → ${loadAfter.toFixed(1)}; wrote ${dir}/*.cpuprofile, *.heapprofile, summary.txt, summary.json`);
    return 0;
  }

  log(`Trellis benchmark — ${values.quick ? 'quick smoke run' : 'full run'}: warm-up ${settings.warmupMs} ms, ${settings.rounds} × ${settings.roundMs} ms rounds ` +
    `(interleaved across scenarios), ${settings.probeMs} ms diagnostic rounds; server on core 0, client on core 1; load average ${loadBefore.toFixed(1)}`);
  const { results, governance } = await benchmark(scenarios, settings, log);
  const loadAfter = load1();
  const ratioList = ratios(results);
  console.log(`\n${table(scenarios, results)}\n`);
  console.log(`${perCallTable(scenarios, results)}\n`);
  if (scenarios.some((s) => s.plugins)) {
    console.log(`governance plugins installed: ${governance.plugins.join(', ') || 'none'}`);
    if (governance.missing.length) console.log(`governance plugins not available: ${governance.missing.join('; ')}`);
  }
  for (const r of ratioList) console.log(`${r.name.padEnd(44)} ${r.value.toFixed(2).padStart(7)}${r.target ? `   target ${r.target}: ${r.met ? 'met' : 'NOT met'}` : ''}`);
  const loads = results.flatMap((r) => r.loadAverage);
  console.log(`\nload average (1 min) during the run: ${Math.min(...loads, loadBefore).toFixed(1)}–${Math.max(...loads, loadAfter).toFixed(1)}${Math.max(...loads) > 1.5 ? ' — the machine was shared: read the ratios, not the absolute figures' : ''}`);
  const name = values.quick ? 'quick' : 'latest';
  const document = {
    date: new Date().toISOString(), node: process.version, cpus: cpus().length, quick: values.quick, settings,
    loadAverage: { before: loadBefore, after: loadAfter, min: Math.min(...loads), max: Math.max(...loads) },
    codec, results, ratios: ratioList, governance,
  };
  writeFileSync(join(out, `${name}.json`), JSON.stringify(document, null, 2));
  writeFileSync(join(out, `${name}.svg`), svgChart(scenarios, results, `Echo QPS by concurrency (${new Date().toISOString().slice(0, 10)}, 2 cores, server and client pinned)`));
  console.log(`\nwrote ${join(out, `${name}.json`)} and ${name}.svg`);
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
