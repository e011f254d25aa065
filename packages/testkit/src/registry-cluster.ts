export interface RegistryClusterOptions {
  /** Members (default 3). */
  readonly size?: number;
  /**
   * How long one member may take to serve after it was started, and the default wait for a leader or
   * for every member to serve (default 60 s: only a guard; three JVMs or etcds start slowly on a loaded CI machine).
   */
  readonly startTimeoutMs?: number;
}

export interface ClusterMember {
  readonly index: number;
  readonly name: string;
  readonly clientPort: number;
  /** Its client address: `http://127.0.0.1:PORT` (etcd) or `127.0.0.1:PORT` (ZooKeeper). */
  readonly address: string;
  /** PID of its current process (changes on restart), -1 before the first start. */
  readonly pid: number;
  readonly running: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * What the etcd cluster and the ZooKeeper ensemble launchers share: the faults a test applies to a
 * registry cluster — a member killed or restarted, one member partitioned from its peers, a rolling
 * restart, the whole cluster down and back — in the same words for both registries.
 */
export abstract class RegistryCluster {
  readonly size: number;
  protected readonly startTimeoutMs: number;
  /** The member cut off its peers, if any. */
  private partitioned: string | undefined;

  protected constructor(readonly kind: 'etcd' | 'zookeeper', options: RegistryClusterOptions) {
    this.size = options.size ?? 3;
    this.startTimeoutMs = options.startTimeoutMs ?? 60_000;
    if (!Number.isInteger(this.size) || this.size < 1) throw new Error(`size must be a whole number ≥ 1, got ${options.size}`);
  }

  abstract get members(): readonly ClusterMember[];
  /** Starts member `index` with its data and resolves when it serves clients. */
  abstract start(index: number): Promise<void>;
  /** Sends `signal` (default SIGKILL) to member `index` and waits for it to exit; its data stays. */
  abstract kill(index: number, signal?: NodeJS.Signals): Promise<void>;
  /** The index of the member that leads now, if one does. */
  abstract leader(): Promise<number | undefined>;
  /** Whether member `index` serves clients now (it is part of a quorum with a leader). */
  abstract serving(index: number): Promise<boolean>;
  /** Kills every member and removes every trace. Idempotent. */
  abstract stop(): Promise<void>;
  /** Applies the partition state to every link proxy. */
  protected abstract refreshLinks(): void;

  /** Waits until a member leads, and returns its index. */
  async waitForLeader(timeoutMs = this.startTimeoutMs): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const leader = await this.leader();
      if (leader !== undefined) return leader;
      if (Date.now() > deadline) throw new Error(`no ${this.kind} member became leader within ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  /** Waits until a member other than `previous` leads (after `previous` was killed or cut off). */
  async waitForNewLeader(previous: number, timeoutMs = this.startTimeoutMs): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const leader = await this.leader();
      if (leader !== undefined && leader !== previous) return leader;
      if (Date.now() > deadline) throw new Error(`no ${this.kind} member other than ${previous} became leader within ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  /** Waits until every running member serves clients (after a restart, an election may still be going on). */
  async waitForAllServing(timeoutMs = this.startTimeoutMs): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const running = this.members.filter((m) => m.running);
      const serving = await Promise.all(running.map((m) => this.serving(m.index)));
      if (serving.every(Boolean)) return;
      if (Date.now() > deadline) {
        throw new Error(`${this.kind} members ${running.filter((_, i) => !serving[i]).map((m) => m.name).join(', ')} did not serve within ${timeoutMs} ms`);
      }
      await sleep(50);
    }
  }

  /** Graceful stop (SIGTERM) and start of one member; resolves when every running member serves again. */
  async restart(index: number): Promise<void> {
    await this.kill(index, 'SIGTERM');
    await this.start(index);
    await this.waitForAllServing();
  }

  /** Restarts every member, one at a time, each once the whole cluster serves again. */
  async rollingRestart(onEach?: (index: number) => void | Promise<void>): Promise<void> {
    for (let i = 0; i < this.size; i++) {
      await this.restart(i);
      await onEach?.(i);
    }
  }

  /** The whole cluster down: every member killed at once (SIGKILL; data kept). */
  async stopAll(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await Promise.all(this.members.map((m) => this.kill(m.index, signal)));
  }

  /**
   * Every stopped member started again at once (a quorum needs them together); resolves with the
   * leader once a majority serves — the moment the cluster is back for its clients. The others go on
   * starting: `waitForAllServing()` waits for them, and reports one that fails to start.
   */
  async startAll(): Promise<number> {
    const starting = this.members.filter((m) => !m.running).map((m) => this.start(m.index));
    const all = Promise.all(starting);
    all.catch(() => undefined); // surfaced by waitForAllServing(), or by the race below
    const majority = Math.floor(this.size / 2) + 1;
    const deadline = Date.now() + this.startTimeoutMs;
    let failed: unknown;
    all.catch((error: unknown) => (failed = error));
    for (;;) {
      if (failed) throw failed;
      const serving = await Promise.all(this.members.map((m) => (m.running ? this.serving(m.index) : false)));
      const leader = serving.filter(Boolean).length >= majority ? await this.leader() : undefined;
      if (leader !== undefined) return leader;
      if (Date.now() > deadline) throw new Error(`no ${this.kind} quorum within ${this.startTimeoutMs} ms of starting every member`);
      await sleep(50);
    }
  }

  /**
   * Cuts member `index` off its peers, both ways (packets dropped), while its client port stays
   * reachable. One partition at a time: a new one replaces the previous.
   */
  partition(index: number): void {
    const member = this.members[index];
    if (!member) throw new Error(`no member ${index} in a cluster of ${this.size}`);
    this.partitioned = member.name;
    this.refreshLinks();
  }

  /** Reconnects the partitioned member; the cut connections are closed and dialled again. */
  heal(): void {
    this.partitioned = undefined;
    this.refreshLinks();
  }

  /** For the link proxies: is the link from → to cut? */
  protected isCut(from: () => string | undefined, to: string): boolean {
    const cut = this.partitioned;
    return cut !== undefined && (to === cut || from() === cut);
  }
}
