import cluster, { type Worker } from 'node:cluster';
import { ExponentialBackoff } from '../../backoff.js';
import { ErrorCodes, TrellisError } from '../../errors.js';
import type { ListenerAddress } from '../listener-set.js';
import type { ResolvedWorkersOptions, WorkerEvent, WorkerInfo, WorkerInspection, WorkerState } from './worker-options.js';
import { guardHandOvers } from './handoff-guard.js';
import { isWorkerMessage, WORKER_ENV, type WorkerMessage } from './worker-messages.js';

interface Member {
  readonly worker: Worker;
  /** Its place in the group (1..count), kept by whoever replaces it. */
  readonly slot: number;
  readonly startedAt: number;
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
 * loop, rolls them one at a time on reload and drains them all on stop, and closes a connection
 * handed to a worker that died before taking it (handoff-guard.ts). It serves no call itself.
 */
export class WorkerGroup {
  private readonly members = new Map<number, Member>();
  private readonly backoff: ExponentialBackoff;
  private readonly crashes: number[] = [];
  private readonly waiters = new Set<() => void>();
  /** Crash replacements per slot, for operators. */
  private readonly restarts = new Map<number, number>();
  /** Inspections asked of workers and not yet answered, by request id. */
  private readonly inspections = new Map<number, (inspection: unknown) => void>();
  private nextInspection = 0;
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
    return [...this.members.values()].map((m) => this.info(m));
  }

  /**
   * Asks every worker for its `inspect()` over the cluster channel (the one the group and
   * prom-client's aggregator already use) and resolves with each one's answer beside its info. A
   * worker still starting, or silent for `timeoutMs`, gets an `error` instead of hanging the read.
   */
  async inspect(timeoutMs: number): Promise<WorkerInspection[]> {
    const asked = [...this.members.values()].map(async (member): Promise<WorkerInspection> => {
      const base = this.info(member);
      if (member.state === 'starting') return { ...base, error: 'starting' };
      const id = ++this.nextInspection;
      let timer: NodeJS.Timeout | undefined;
      const answered = new Promise<unknown>((resolve) => this.inspections.set(id, resolve));
      const timedOut = new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(resolve, timeoutMs, TIMED_OUT)));
      try {
        const message: WorkerMessage = { trellis: 'worker-inspect', id };
        member.worker.send(message, undefined, undefined, () => {});
        const inspection = await Promise.race([answered, timedOut, member.exited.then(() => EXITED)]);
        if (inspection === TIMED_OUT) return { ...base, error: `no answer within ${timeoutMs} ms` };
        if (inspection === EXITED) return { ...base, error: 'exited before it answered' };
        return { ...base, inspection };
      } finally {
        clearTimeout(timer);
        this.inspections.delete(id);
      }
    });
    return (await Promise.all(asked)).sort((a, b) => a.slot - b.slot || a.id - b.id);
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
    for (let slot = 1; slot <= this.options.count; slot++) this.spawn(slot);
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
      const fresh = this.spawn(old.slot);
      await this.until(() => fresh.state === 'ready' || !this.members.has(fresh.worker.id) || this.stopping);
      if (!this.members.has(fresh.worker.id)) {
        throw new TrellisError(ErrorCodes.WORKERS_FAILED, `reload stopped: a new worker (pid ${fresh.worker.process.pid}) exited before it was ready; the old workers keep serving`);
      }
      if (this.stopping) return;
      if (this.members.has(old.worker.id)) await this.drain(old, graceMs, true);
    }
  }

  private spawn(slot: number): Member {
    const env: Record<string, string> = { [WORKER_ENV.GROUP]: '1' };
    const worker = cluster.fork(env);
    // Before anything can be handed to it: a connection given to this worker as it dies is closed, not kept open.
    guardHandOvers(worker.process);
    let exited!: () => void;
    const member: Member = { worker, slot, startedAt: Date.now(), state: 'starting', planned: false, exited: new Promise((r) => (exited = r)), readyTimer: undefined };
    this.members.set(worker.id, member);
    member.readyTimer = setTimeout(() => {
      this.report(new Error(`worker ${worker.process.pid} was not ready within ${this.options.readyTimeoutMs} ms (workers.readyTimeoutMs); killed`));
      worker.process.kill('SIGKILL');
    }, this.options.readyTimeoutMs);
    member.readyTimer.unref();
    worker.on('message', (message: unknown) => {
      if (!isWorkerMessage(message)) return;
      if (message.trellis === 'worker-ready') this.onReady(member, message.port, message.listeners);
      else if (message.trellis === 'worker-inspection') this.inspections.get(message.id)?.(message.inspection);
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
    this.emit({ type: 'ready', worker: this.info(member) });
    this.notify();
  }

  private onExit(member: Member, code: number | null, signal: string | null): void {
    clearTimeout(member.readyTimer);
    this.members.delete(member.worker.id);
    const planned = member.planned || this.stopping;
    this.emit({ type: 'exit', worker: this.info(member), code, signal, planned });
    if (!planned) this.onCrash(member.slot);
    this.notify();
  }

  private onCrash(slot: number): void {
    this.restarts.set(slot, (this.restarts.get(slot) ?? 0) + 1);
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
      // Another crash may have been replaced meanwhile (one timer for all): fill every empty slot.
      for (const free of this.freeSlots()) this.spawn(free);
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

  /** Slots no worker that is or will be serving holds (a draining one is on its way out). */
  private freeSlots(): number[] {
    const held = new Set<number>();
    for (const m of this.members.values()) if (m.state !== 'draining') held.add(m.slot);
    const free: number[] = [];
    for (let slot = 1; slot <= this.options.count; slot++) if (!held.has(slot)) free.push(slot);
    return free;
  }

  private info(member: Member): WorkerInfo {
    return {
      id: member.worker.id, slot: member.slot, pid: member.worker.process.pid, state: member.state,
      startedAt: member.startedAt, restarts: this.restarts.get(member.slot) ?? 0,
    };
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

const TIMED_OUT = Symbol('timed out');
const EXITED = Symbol('exited');
