import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DowntimeHold } from './downtime-hold.js';
import { freePorts, launchOnFreePorts } from './free-port.js';
import { LinkProxy, type LinkHead } from './link-proxy.js';
import { RegistryCluster, type ClusterMember, type RegistryClusterOptions } from './registry-cluster.js';
import { waitUntilReady } from './server-readiness.js';
import { ServerProcess } from './server-process.js';
import { baseConfig, JAVA, zooKeeperArgs, zooKeeperMode } from './zookeeper-member.js';

export interface ZooKeeperEnsembleOptions extends RegistryClusterOptions {
  /** ZooKeeper's tick (default 2000 ms); sessions are clamped to 2–20 ticks. */
  readonly tickTime?: number;
  /** Ticks a follower may lag or be silent before the leader drops it, and it the leader (default 4). */
  readonly syncLimit?: number;
}

/**
 * Starts a ZooKeeper 3.8 ensemble of `size` servers (default 3) on loopback, each with its own client,
 * quorum and election ports and data directory, and resolves once a leader serves.
 *
 * A ZooKeeper server listens on the address its own config line gives it, so the servers cannot share
 * one config that points at proxies. Each server gets a config of its own instead, in which every
 * other server's line points at a proxy for that pair of servers: `partition(i)` then cuts exactly the
 * links from and to server i. One more detail makes that hold: a server that receives an election
 * connection from a lower id closes it and dials back at the address the caller sent in its first
 * message — its real port, past the proxy. The election proxies rewrite that first message into the
 * older form without an address (which 3.8 still accepts), so the call back goes through the dialling
 * server's own config, and so through a proxy.
 */
export function startZooKeeperEnsemble(options: ZooKeeperEnsembleOptions = {}): Promise<ZooKeeperEnsemble> {
  // A server port taken between freePorts() and the server's bind: a new ensemble on fresh ports.
  return launchOnFreePorts(() => new ZooKeeperEnsemble(options));
}

interface ZooKeeperServerState {
  readonly id: number;
  readonly name: string;
  readonly clientPort: number;
  readonly quorumPort: number;
  readonly electionPort: number;
  readonly dir: string;
  readonly configFile: string;
  readonly logFile: string;
  /** Its ports, refused and kept from other processes while it is down (between kill and start). */
  readonly hold: DowntimeHold;
  server: ServerProcess | undefined;
}

export class ZooKeeperEnsemble extends RegistryCluster {
  readonly tickTime: number;
  private readonly state: ZooKeeperServerState[] = [];
  private readonly proxies: LinkProxy[] = [];
  private readonly baseDir = mkdtempSync(join(tmpdir(), 'trellis-zk-ensemble-'));

  constructor(private readonly options: ZooKeeperEnsembleOptions) {
    super('zookeeper', options);
    this.tickTime = options.tickTime ?? 2000;
    if (!Number.isInteger(this.tickTime) || this.tickTime < 50) throw new Error(`tickTime must be an integer ≥ 50, got ${options.tickTime}`);
  }

  /** `127.0.0.1:C1,127.0.0.1:C2,…`, for the registry's `connectString`. */
  get connectString(): string {
    return this.state.map((s) => `127.0.0.1:${s.clientPort}`).join(',');
  }

  get members(): readonly ClusterMember[] {
    return this.state.map((s, index) => ({
      index, name: s.name, clientPort: s.clientPort, address: `127.0.0.1:${s.clientPort}`,
      pid: s.server?.pid ?? -1, running: s.server?.running ?? false,
    }));
  }

  /** @internal Allocates ports, starts the proxies, writes each server's config and starts them all. */
  async launch(): Promise<void> {
    const free = await freePorts(this.size * 3);
    for (let i = 0; i < this.size; i++) {
      const id = i + 1;
      const dir = join(this.baseDir, `s${id}`);
      mkdirSync(join(dir, 'data'), { recursive: true });
      writeFileSync(join(dir, 'data', 'myid'), `${id}\n`);
      const [clientPort, quorumPort, electionPort] = [free[3 * i]!, free[3 * i + 1]!, free[3 * i + 2]!];
      this.state.push({
        id, name: `s${id}`, clientPort, quorumPort, electionPort,
        dir, configFile: join(dir, 'zoo.cfg'), logFile: join(dir, 'zookeeper.log'),
        hold: new DowntimeHold([clientPort, quorumPort, electionPort]), server: undefined,
      });
    }
    const taken = new Set(this.state.flatMap((s) => [s.clientPort, s.quorumPort, s.electionPort]));
    for (const self of this.state) {
      const lines = [...baseConfig(this.tickTime, join(self.dir, 'data'), self.clientPort), 'initLimit=10', `syncLimit=${this.options.syncLimit ?? 4}`];
      for (const peer of this.state) {
        if (peer === self) {
          lines.push(`server.${self.id}=127.0.0.1:${self.quorumPort}:${self.electionPort}`);
          continue;
        }
        const link = { from: self.name, to: peer.name, isCut: (from: () => string | undefined, to: string) => this.isCut(from, to) };
        const quorum = await new LinkProxy({ ...link, targetPort: peer.quorumPort }).start(taken);
        const election = await new LinkProxy({ ...link, targetPort: peer.electionPort, inspect: withoutElectionAddress }).start(taken);
        this.proxies.push(quorum, election);
        lines.push(`server.${peer.id}=127.0.0.1:${quorum.port}:${election.port}`);
      }
      writeFileSync(self.configFile, [...lines, ''].join('\n'));
    }
    await Promise.all(this.state.map((_, i) => this.start(i)));
    await this.waitForLeader();
  }

  /** Starts server `index` (again, with its data) and waits until it serves as leader or follower. */
  async start(index: number): Promise<void> {
    const member = this.member(index);
    if (member.server?.running) return;
    await member.hold.taken();
    const server = ServerProcess.spawn(JAVA, zooKeeperArgs(member.configFile, 'quorum'), member.logFile, this.baseDir);
    member.server = server;
    try {
      // The JVM listens on its ports while they are held.
      await waitUntilReady(server.child, {
        name: `ZooKeeper ${member.name}`, command: JAVA, port: member.clientPort, timeoutMs: this.startTimeoutMs, logFile: member.logFile,
        intervalMs: 100, probe: () => this.serving(index),
        readyMeans: 'serve as leader or follower',
      });
    } finally {
      await member.hold.release();
    }
  }

  async kill(index: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const member = this.member(index);
    const server = member.server;
    await server?.signal(signal);
    await member.hold.holdIfEnded(server);
  }

  async leader(): Promise<number | undefined> {
    const modes = await Promise.all(this.state.map((s) => (s.server?.running ? zooKeeperMode(s.clientPort) : undefined)));
    const index = modes.indexOf('leader');
    return index === -1 ? undefined : index;
  }

  async serving(index: number): Promise<boolean> {
    return ['leader', 'follower'].includes((await this.mode(index)) ?? '');
  }

  /** What server `index` says it is doing (`leader`, `follower`), undefined while it serves nobody. */
  mode(index: number): Promise<string | undefined> {
    return zooKeeperMode(this.member(index).clientPort);
  }

  protected override refreshLinks(): void {
    for (const proxy of this.proxies) proxy.refresh();
  }

  async stop(): Promise<void> {
    await Promise.all(this.state.map((s) => s.server?.signal('SIGKILL')));
    await Promise.all(this.state.map((s) => s.hold.release()));
    await Promise.all(this.proxies.map((p) => p.close()));
    rmSync(this.baseDir, { recursive: true, force: true });
  }

  private member(index: number): ZooKeeperServerState {
    const member = this.state[index];
    if (!member) throw new Error(`no server ${index} in an ensemble of ${this.state.length}`);
    return member;
  }
}

/**
 * ZooKeeper 3.8's first message on an election connection: [long protocol version < 0][long sid]
 * [int length][address]. Rewritten to the pre-3.5 form, [long sid] alone, so the receiver dials back
 * through its config (the proxy) instead of the address in the message.
 */
function withoutElectionAddress(head: Buffer): LinkHead | undefined {
  if (head.length < 8) return undefined;
  if (head.readBigInt64BE(0) >= 0n) return { forward: head };
  if (head.length < 20) return undefined;
  const length = head.readInt32BE(16);
  if (length < 0 || length > 4096) return { forward: head };
  if (head.length < 20 + length) return undefined;
  return { forward: Buffer.concat([head.subarray(8, 16), head.subarray(20 + length)]) };
}
