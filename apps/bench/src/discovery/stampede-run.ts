import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEtcd, startEtcdCluster, startZooKeeper, startZooKeeperEnsemble } from '@trellis/testkit';
import { serviceName, type EventKind, type FromLoad, type LoadConfig, type LoadReport, type RegistryKind, type ToLoad } from './stampede-protocol.js';

export type Topology = 'single' | 'cluster';

export interface StampedeOptions {
  readonly kind: RegistryKind;
  readonly topology: Topology;
  /** false: the registries' backoff without jitter (the baseline the jittered run is compared with). */
  readonly jitter: boolean;
  readonly processes: number;
  readonly clientsPerProcess: number;
  /** Share of each process's registry clients that are providers (the rest are consumers). */
  readonly providerShare: number;
  readonly services: number;
  readonly servicesPerConsumer: number;
  readonly outageMs: number;
  /** How long after the restart events are collected (at least until 10 s after the registry serves). */
  readonly observeMs: number;
  readonly log: (line: string) => void;
}

export const BIN_MS = 100;

export interface StampedeResult {
  readonly kind: RegistryKind;
  readonly topology: Topology;
  readonly jitter: boolean;
  /** Registry clients (ZooKeeper sessions, etcd clients with a lease or a watch) in the fleet. */
  readonly sessions: number;
  /** Per event kind, counts per 100 ms from the restart (the registry processes started again). */
  readonly bins: Record<EventKind, number[]>;
  /** The registry processes' CPU per 100 ms bin, in % of one core (members summed). */
  readonly cpuPercent: number[];
  /** The most sessions that got through in one 100 ms bin, and that as a share of the fleet. */
  readonly peakSessions: number;
  readonly peakShare: number;
  /** When the sessions got through, ms after the restart: first, median, last. */
  readonly sessionsBackMs: { readonly first: number; readonly p50: number; readonly last: number } | undefined;
  readonly sessionsBack: number;
  /** Counts from the restart on. */
  readonly totals: Record<EventKind, number>;
  /** CPU the registry processes used in the first 10 s after the restart, in ms (their own start-up included). */
  readonly cpuFirst10sMs: number;
  /** CPU the registry processes used in the 10 s after the first client got through, in ms. */
  readonly cpuAfterBack10sMs: number;
  /** The busiest 100 ms of the registry processes after the first client got through, in % of one core. */
  readonly cpuPeakPercent: number;
  readonly consumers: number;
  readonly completeConsumers: number;
  /** ms from the restart until the registry's readiness probe passed (process start, data load, election). */
  readonly startupMs: number;
}

interface RegistryUnderTest {
  readonly address: string;
  pids(): number[];
  /** kill -9 every member (data kept). */
  down(): Promise<void>;
  /** Start every member again; resolves once it serves. */
  up(): Promise<void>;
  close(): Promise<void>;
}

async function startRegistry(kind: RegistryKind, topology: Topology): Promise<RegistryUnderTest> {
  if (topology === 'cluster') {
    // 500 clients on a shared 2-core machine starve the members of CPU now and then: raft timing as
    // etcd's tuning guide has it for a slow network (heartbeat 250 ms, election 2.5 s), or the cluster
    // keeps electing while the fleet settles.
    const cluster = kind === 'etcd' ? await startEtcdCluster({ heartbeatMs: 250, electionMs: 2500 }) : await startZooKeeperEnsemble();
    return {
      address: 'endpoints' in cluster ? cluster.endpoints : cluster.connectString,
      pids: () => cluster.members.filter((m) => m.running).map((m) => m.pid),
      down: () => cluster.stopAll(),
      up: async () => void (await cluster.startAll()),
      close: () => cluster.stop(),
    };
  }
  if (kind === 'etcd') {
    const etcd = await startEtcd();
    return { address: etcd.endpoints, pids: () => [etcd.pid], down: () => etcd.kill('SIGKILL'), up: () => etcd.restart(), close: () => etcd.stop() };
  }
  const zk = await startZooKeeper();
  return {
    address: zk.connectString,
    pids: () => [zk.pid],
    down: async () => {
      zk.kill('SIGKILL');
      await waitGone(zk.pid);
    },
    up: () => zk.restart(),
    close: () => zk.stop(),
  };
}

async function waitGone(pid: number): Promise<void> {
  while (cpuTicks(pid) !== undefined) await sleep(20);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const now = (): number => performance.timeOrigin + performance.now();

/** utime + stime of a process, in clock ticks (1/100 s on Linux), or undefined once it is gone. */
function cpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; fields 14 and 15 count from after its ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}
const TICK_MS = 10;

class LoadProcess {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<string, { resolve: (message: FromLoad) => void; reject: (error: Error) => void }>();
  readonly exited: Promise<void>;

  constructor(config: LoadConfig) {
    this.child = fork(join(__dirname, 'stampede-load.js'), [JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
    this.exited = new Promise((resolve) => this.child.once('exit', () => resolve()));
    // A process that died closes its IPC channel: a late send must not become an uncaught error.
    this.child.on('error', () => undefined);
    this.child.on('message', (message: FromLoad) => {
      if (message.type === 'failed') {
        for (const waiter of this.waiting.values()) waiter.reject(new Error(`a stampede load process failed: ${message.message}`));
        return;
      }
      this.waiting.get(message.type)?.resolve(message);
    });
  }

  next<T extends FromLoad['type']>(type: T, timeoutMs: number): Promise<Extract<FromLoad, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "${type}" from a load process within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.set(type, {
        resolve: (message) => {
          clearTimeout(timer);
          resolve(message as Extract<FromLoad, { type: T }>);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      void this.exited.then(() => reject(new Error(`a load process exited while waiting for "${type}"`)));
    });
  }

  send(message: ToLoad): void {
    if (this.child.connected) this.child.send(message, () => undefined);
  }

  async stop(): Promise<void> {
    this.send({ type: 'stop' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * One stampede run: a registry (single server or 3-member cluster), `processes` × `clientsPerProcess`
 * registry clients settled on it, the registry killed for `outageMs` and started again, and everything
 * the clients do to it for `observeMs` after the restart, binned per 100 ms, with its CPU.
 */
export async function runStampede(options: StampedeOptions): Promise<StampedeResult> {
  const registry = await startRegistry(options.kind, options.topology);
  const loads: LoadProcess[] = [];
  try {
    const providersPerProcess = Math.round(options.clientsPerProcess * options.providerShare);
    const consumersPerProcess = options.clientsPerProcess - providersPerProcess;
    const expected: Record<string, number> = {};
    for (let p = 0; p < options.processes; p++) {
      for (let i = 0; i < providersPerProcess; i++) {
        const name = serviceName((p * providersPerProcess + i) % options.services);
        expected[name] = (expected[name] ?? 0) + 1;
      }
    }
    const registryOptions = options.jitter ? {} : { backoff: { jitter: 0 } };
    for (let p = 0; p < options.processes; p++) {
      loads.push(new LoadProcess({
        kind: options.kind, address: registry.address, providers: providersPerProcess, consumers: consumersPerProcess,
        firstClient: p * options.clientsPerProcess, firstProvider: p * providersPerProcess, services: options.services, servicesPerConsumer: options.servicesPerConsumer,
        expected, registryOptions,
      }));
    }
    const settling = performance.now();
    await Promise.all(loads.map((l) => l.next('ready', 180_000)));
    options.log(`    ${options.processes * options.clientsPerProcess} registry clients settled in ${Math.round(performance.now() - settling)} ms`);
    // Let the fleet reach its steady rhythm (keepalives, pings) before the outage.
    await sleep(3000);

    for (const load of loads) load.send({ type: 'outage' });
    await registry.down();
    options.log(`    registry down for ${options.outageMs / 1000} s`);
    await sleep(options.outageMs);

    // CPU of the registry processes, sampled every bin from the restart on.
    const cpu: { t: number; ticks: number }[] = [];
    const known = new Map<number, number>();
    const sample = (): void => {
      let total = 0;
      for (const pid of registry.pids()) {
        const ticks = cpuTicks(pid);
        if (ticks !== undefined) known.set(pid, ticks);
      }
      for (const ticks of known.values()) total += ticks;
      cpu.push({ t: now(), ticks: total });
    };
    const sampler = setInterval(sample, BIN_MS);
    const restartAt = now();
    await registry.up();
    const servedAt = now();
    options.log(`    registry serves again (${options.topology === 'cluster' ? 'a quorum' : 'the server'}) ${Math.round(servedAt - restartAt)} ms after the restart`);
    const observedMs = Math.max(options.observeMs, servedAt - restartAt + 10_000);
    await sleep(restartAt + observedMs - now());
    clearInterval(sampler);
    sample();

    const reports = await Promise.all(loads.map(async (l) => {
      const reply = l.next('report', 30_000);
      l.send({ type: 'report' });
      return (await reply).report;
    }));
    return summarize(options, reports, servedAt, restartAt, observedMs, cpu);
  } finally {
    await Promise.all(loads.map((l) => l.stop()));
    await registry.close();
  }
}

function summarize(options: StampedeOptions, reports: readonly LoadReport[], servedAt: number, restartAt: number, observedMs: number, cpu: readonly { t: number; ticks: number }[]): StampedeResult {
  const binCount = Math.ceil(observedMs / BIN_MS);
  const kinds: EventKind[] = ['connect', 'session', 'create', 'read', 'watch', 'expired'];
  const bins = Object.fromEntries(kinds.map((k) => [k, new Array<number>(binCount).fill(0)])) as Record<EventKind, number[]>;
  const totals = Object.fromEntries(kinds.map((k) => [k, 0])) as Record<EventKind, number>;
  const sessionTimes: number[] = [];
  for (const report of reports) {
    for (const kind of kinds) {
      for (const t of report.events[kind]) {
        if (t < restartAt) continue;
        totals[kind]++;
        if (kind === 'session') sessionTimes.push(t - restartAt);
        const bin = Math.floor((t - restartAt) / BIN_MS);
        if (bin >= 0 && bin < binCount) bins[kind][bin]!++;
      }
    }
  }
  // CPU per bin: the CPU time between consecutive samples over the time between them (a timer on a
  // loaded machine fires late), in the bin of the later sample.
  const cpuPercent = new Array<number>(binCount).fill(0);
  for (let i = 1; i < cpu.length; i++) {
    const bin = Math.floor((cpu[i]!.t - restartAt) / BIN_MS);
    const elapsed = cpu[i]!.t - cpu[i - 1]!.t;
    if (bin >= 0 && bin < binCount && elapsed > 0) cpuPercent[bin] = ((cpu[i]!.ticks - cpu[i - 1]!.ticks) * TICK_MS * 100) / elapsed;
  }
  const ticksAt = (t: number): number => {
    let last = cpu[0]?.ticks ?? 0;
    for (const s of cpu) if (s.t <= t) last = s.ticks;
    return last;
  };
  sessionTimes.sort((a, b) => a - b);
  const sessions = options.processes * options.clientsPerProcess;
  const peakSessions = Math.max(...bins.session);
  return {
    kind: options.kind, topology: options.topology, jitter: options.jitter, sessions, bins, cpuPercent,
    peakSessions, peakShare: peakSessions / sessions,
    sessionsBackMs: sessionTimes.length > 0
      ? { first: sessionTimes[0]!, p50: sessionTimes[Math.floor(sessionTimes.length / 2)]!, last: sessionTimes.at(-1)! }
      : undefined,
    sessionsBack: sessionTimes.length,
    totals,
    cpuFirst10sMs: (ticksAt(restartAt + 10_000) - ticksAt(restartAt)) * TICK_MS,
    cpuPeakPercent: Math.max(0, ...cpuPercent.slice(sessionTimes.length > 0 ? Math.floor(sessionTimes[0]! / BIN_MS) : 0)),
    cpuAfterBack10sMs: sessionTimes.length > 0 ? (ticksAt(restartAt + sessionTimes[0]! + 10_000) - ticksAt(restartAt + sessionTimes[0]!)) * TICK_MS : 0,
    consumers: reports.length * (options.clientsPerProcess - Math.round(options.clientsPerProcess * options.providerShare)),
    completeConsumers: reports.reduce((sum, r) => sum + r.completeConsumers, 0),
    startupMs: servedAt - restartAt,
  };
}
