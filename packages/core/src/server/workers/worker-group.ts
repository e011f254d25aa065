import cluster, { type Worker } from 'node:cluster';
import { ExponentialBackoff } from '../../backoff.js';
import { ErrorCodes, TrellisError } from '../../errors.js';
import type { ListenerAddress } from '../listener-set.js';
import type { ResolvedWorkersOptions, WorkerEvent, WorkerInfo, WorkerState } from './worker-options.js';
import { isWorkerMessage, WORKER_ENV, type WorkerMessage } from './worker-messages.js';

interface Member {
  readonly worker: Worker;
  state: WorkerState;
  /** The group asked it to leave (reload, stop): its exit is no crash. */
  planned: boolean;
  readonly exited: Promise<void>;
  readyTimer: NodeJS.Timeout | undefined;
}

/** After a drain's grace period, how long a worker may take to close before it is killed. */
const DRAIN_MARGIN_MS = 5000;

/**
 * The primary's side of `RpcServer({ workers })`: forks the workers (node:cluster; they share the
 * listening port), waits until each is ready, replaces crashed ones with backoff, gives up on a crash
 * loop, rolls them one at a time on reload and drains them all on stop. It serves no call itself.
 */
export class WorkerGroup {
  private readonly members = new Map<number, Member>();
  private readonly backoff: ExponentialBackoff;
  private readonly crashes: number[] = [];
  private readonly waiters = new Set<() => void>();
  private respawnTimer: NodeJS.Timeout | undefined;
  private rolling: Promise<void> = Promise.resolve();
  private stopping = false;
  private port: number | undefined;
  private listenerAddresses: readonly ListenerAddress[] | undefined;
  /** More crashes than allowed in the window: no respawns; the server deregisters. */
  crashLooping = false;

  constructor(
    private readonly options: ResolvedWorkersOptions,
    private readonly onCrashLoop: () => void,
    private readonly report: (error: Error) => void,
  ) {
    this.backoff = new ExponentialBackoff(options.respawnBackoff);
  }

  get workers(): readonly WorkerInfo[] {
    return [...this.members.values()].map(info);
  }

  /** Not in a crash loop, and at least one worker ready to take calls. */
  get servable(): boolean {
    return !this.crashLooping && this.readyCount() > 0;
  }

  /** The port every worker serves (known once the first is ready). */
  get listeningPort(): number | undefined {
    return this.port;
  }

  /** Every listener of the workers (`RpcServer({ listeners })`), as the first ready worker reported them. */
  get listeners(): readonly ListenerAddress[] | undefined {
    return this.listenerAddresses;
  }

  /** Forks every worker; resolves with the shared port when all are ready, rejects on a crash loop. */
  async start(): Promise<number> {
    if (this.options.exec !== undefined) cluster.setupPrimary({ exec: this.options.exec });
    for (let i = 0; i < this.options.count; i++) this.spawn();
    await this.until(() => this.crashLooping || this.readyCount() >= this.options.count);
    if (this.crashLooping) {
      throw new TrellisError(ErrorCodes.WORKERS_FAILED,
        `the workers kept exiting before they were ready (${this.crashes.length} crashes within ${this.options.crashWindowMs} ms); see their output`);
    }
    return this.port!;
  }

  /**
   * Replaces every worker, one at a time: a new worker is ready before the old one is asked to leave,
   * and the old one hands its connections over (GOAWAY OK, calls in flight finish) within `graceMs`.
   */
  reload(graceMs: number): Promise<void> {
    const next = this.rolling.then(() => this.roll(graceMs));
    this.rolling = next.catch(() => undefined);
    return next;
  }

  /** Drains every worker (GOAWAY, calls finish within `graceMs`); kills those that do not exit in time. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    if (this.respawnTimer) clearTimeout(this.respawnTimer);
    this.notify();
    await Promise.all([...this.members.values()].map((m) => this.drain(m, graceMs, false)));
  }

  private async roll(graceMs: number): Promise<void> {
    if (this.crashLooping) {
      throw new TrellisError(ErrorCodes.WORKERS_FAILED, 'the worker group stopped respawning after a crash loop; restart the server instead of reloading it');
    }
    for (const old of [...this.members.values()]) {
      if (this.stopping) return;
      if (old.state === 'draining' || !this.members.has(old.worker.id)) continue;
      const fresh = this.spawn();
      await this.until(() => fresh.state === 'ready' || !this.members.has(fresh.worker.id) || this.stopping);
      if (!this.members.has(fresh.worker.id)) {
        throw new TrellisError(ErrorCodes.WORKERS_FAILED, `reload stopped: a new worker (pid ${fresh.worker.process.pid}) exited before it was ready; the old workers keep serving`);
      }
      if (this.stopping) return;
      if (this.members.has(old.worker.id)) await this.drain(old, graceMs, true);
    }
  }

  private spawn(): Member {
    const env: Record<string, string> = { [WORKER_ENV.GROUP]: '1' };
    const worker = cluster.fork(env);
    let exited!: () => void;
    const member: Member = { worker, state: 'starting', planned: false, exited: new Promise((r) => (exited = r)), readyTimer: undefined };
    this.members.set(worker.id, member);
    member.readyTimer = setTimeout(() => {
      this.report(new Error(`worker ${worker.process.pid} was not ready within ${this.options.readyTimeoutMs} ms (workers.readyTimeoutMs); killed`));
      worker.process.kill('SIGKILL');
    }, this.options.readyTimeoutMs);
    member.readyTimer.unref();
    worker.on('message', (message: unknown) => {
      if (isWorkerMessage(message) && message.trellis === 'worker-ready') this.onReady(member, message.port, message.listeners);
    });
    worker.on('error', (error: Error) => this.report(new Error(`worker ${worker.process.pid}: ${error.message}`, { cause: error })));
    worker.on('exit', (code: number | null, signal: string | null) => {
      exited();
      this.onExit(member, code, signal);
    });
    return member;
  }

  private onReady(member: Member, port: number, listeners: readonly ListenerAddress[] | undefined): void {
    clearTimeout(member.readyTimer);
    if (member.state !== 'starting') return;
    this.port ??= port;
    // Every worker opens its listeners in the same order, and node:cluster shares each by its
    // address and rank among the worker's listen(0) calls: the first worker's ports are everyone's.
    this.listenerAddresses ??= listeners;
    // node:cluster gives every worker's listen(0) the same port while one of them still listens;
    // only if all had died at once would a new one get another (hence: a fixed port in production).
    if (port !== this.port) this.report(new Error(`worker ${member.worker.process.pid} listens on port ${port}, the group is registered on ${this.port}`));
    member.state = 'ready';
    this.emit({ type: 'ready', worker: info(member) });
    this.notify();
  }

  private onExit(member: Member, code: number | null, signal: string | null): void {
    clearTimeout(member.readyTimer);
    this.members.delete(member.worker.id);
    const planned = member.planned || this.stopping;
    this.emit({ type: 'exit', worker: info(member), code, signal, planned });
    if (!planned) this.onCrash();
    this.notify();
  }

  private onCrash(): void {
    const now = Date.now();
    while (this.crashes.length > 0 && this.crashes[0]! <= now - this.options.crashWindowMs) this.crashes.shift();
    if (this.crashes.length === 0) this.backoff.reset();
    this.crashes.push(now);
    if (this.crashLooping) return;
    if (this.crashes.length > this.options.maxCrashes) {
      this.crashLooping = true;
      if (this.respawnTimer) clearTimeout(this.respawnTimer);
      this.emit({ type: 'crash-loop', crashes: this.crashes.length, windowMs: this.options.crashWindowMs });
      this.report(new Error(`${this.crashes.length} worker crashes within ${this.options.crashWindowMs} ms: no more respawns; the instance is deregistered (NOT_SERVING)`));
      this.onCrashLoop();
      return;
    }
    const afterMs = this.backoff.next();
    this.emit({ type: 'respawn', afterMs, crashes: this.crashes.length });
    if (this.respawnTimer) clearTimeout(this.respawnTimer);
    this.respawnTimer = setTimeout(() => {
      this.respawnTimer = undefined;
      if (this.stopping || this.crashLooping) return;
      // Another crash may have been replaced meanwhile (one timer for all): fill up to the count.
      for (let live = this.liveCount(); live < this.options.count; live++) this.spawn();
    }, afterMs);
  }

  private async drain(member: Member, graceMs: number, handOver: boolean): Promise<void> {
    if (!this.members.has(member.worker.id)) return;
    member.planned = true;
    member.state = 'draining';
    const message: WorkerMessage = { trellis: 'worker-drain', graceMs, handOver };
    try {
      member.worker.send(message);
    } catch {
      member.worker.process.kill('SIGKILL'); // its IPC channel is gone: it cannot be asked
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([member.exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs + DRAIN_MARGIN_MS)))]);
    clearTimeout(timer);
    if (this.members.has(member.worker.id)) {
      this.report(new Error(`worker ${member.worker.process.pid} did not exit within ${graceMs + DRAIN_MARGIN_MS} ms of its drain; killed`));
      member.worker.process.kill('SIGKILL');
      await member.exited;
    }
  }

  private readyCount(): number {
    let n = 0;
    for (const m of this.members.values()) if (m.state === 'ready') n++;
    return n;
  }

  /** Workers that are or will be serving (a draining one is on its way out). */
  private liveCount(): number {
    let n = 0;
    for (const m of this.members.values()) if (m.state !== 'draining') n++;
    return n;
  }

  private emit(event: WorkerEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch { /* an observer's failure must not break supervision */ }
  }

  /** Resolves when `condition` holds, re-checked on every membership change. */
  private until(condition: () => boolean): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = (): void => {
        if (!condition()) return;
        this.waiters.delete(check);
        resolve();
      };
      this.waiters.add(check);
    });
  }

  private notify(): void {
    for (const check of [...this.waiters]) check();
  }
}

function info(member: Member): WorkerInfo {
  return { id: member.worker.id, pid: member.worker.process.pid, state: member.state };
}
