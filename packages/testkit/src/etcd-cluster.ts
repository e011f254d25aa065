import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DowntimeHold } from './downtime-hold.js';
import { ETCD, etcdArgs, etcdHealthy, etcdLeadership } from './etcd-member.js';
import { freePorts, launchOnFreePorts } from './free-port.js';
import type { Socket } from 'node:net';
import { LinkProxy } from './link-proxy.js';
import { RegistryCluster, type ClusterMember, type RegistryClusterOptions } from './registry-cluster.js';
import { waitUntilReady } from './server-readiness.js';
import { ServerProcess } from './server-process.js';
import { loopbackPeerPid } from './socket-owner.js';

export interface EtcdClusterOptions extends RegistryClusterOptions {
  /** Raft heartbeat (etcd's default 100 ms). */
  readonly heartbeatMs?: number;
  /** Raft election timeout (etcd's default 1000 ms); the smallest lease TTL etcd grants is 1.5 × this. */
  readonly electionMs?: number;
}

/**
 * Starts an etcd 3.4 cluster of `size` members (default 3) on loopback: each member has its own client
 * port, peer port and data directory, and the members reach each other through link proxies, so that
 * `partition(i)` can cut one member off its peers while its client port stays reachable.
 *
 * etcd members dial a peer at the peer URL the peer advertises, which is the same for everyone, so
 * there is one proxy per member, and it must tell which member a connection comes from. Not every
 * request says so (raft's do, in an `X-PeerURLs` header; a lease renewal forwarded to the leader
 * does not), so the proxy asks Linux instead: which member process owns the dialling socket.
 */
export function startEtcdCluster(options: EtcdClusterOptions = {}): Promise<EtcdCluster> {
  // A member port taken between freePorts() and the member's bind: a new cluster on fresh ports.
  return launchOnFreePorts(() => new EtcdCluster(options));
}

interface EtcdMemberState {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  readonly logFile: string;
  readonly proxy: LinkProxy;
  /** Its ports, refused and kept from other processes while it is down (between kill and start). */
  readonly hold: DowntimeHold;
  server: ServerProcess | undefined;
}

export class EtcdCluster extends RegistryCluster {
  private readonly state: EtcdMemberState[] = [];
  private readonly baseDir = mkdtempSync(join(tmpdir(), 'trellis-etcd-cluster-'));
  private token: string | undefined;

  constructor(private readonly options: EtcdClusterOptions) {
    super('etcd', options);
  }

  /** `http://127.0.0.1:C1,http://127.0.0.1:C2,…`, for the registry's `endpoints` option. */
  get endpoints(): string {
    return this.state.map((m) => `http://127.0.0.1:${m.clientPort}`).join(',');
  }

  get members(): readonly ClusterMember[] {
    return this.state.map((m, index) => ({
      index, name: m.name, clientPort: m.clientPort, address: `http://127.0.0.1:${m.clientPort}`,
      pid: m.server?.pid ?? -1, running: m.server?.running ?? false,
    }));
  }

  /** @internal Allocates ports, starts the proxies and every member at once (they elect a leader together). */
  async launch(): Promise<void> {
    const free = await freePorts(this.size * 2);
    const ports = Array.from({ length: this.size }, (_, i) => ({ peer: free[2 * i]!, client: free[2 * i + 1]! }));
    const taken = new Set(ports.flatMap((p) => [p.peer, p.client]));
    for (const [i, { peer, client }] of ports.entries()) {
      const name = `m${i + 1}`;
      const proxy = await new LinkProxy({
        to: name, targetPort: peer, isCut: (from, to) => this.isCut(from, to), identify: (socket) => this.memberOf(socket),
      }).start(taken);
      const dir = join(this.baseDir, name);
      mkdirSync(dir);
      this.state.push({ name, clientPort: client, peerPort: peer, dataDir: join(dir, 'data'), logFile: join(dir, 'etcd.log'), proxy, hold: new DowntimeHold([client, peer]), server: undefined });
    }
    await Promise.all(this.state.map((_, i) => this.start(i)));
    await this.waitForLeader();
  }

  /** Starts member `index` (again, with its data) and waits until it is healthy (it has a leader). */
  async start(index: number): Promise<void> {
    const member = this.member(index);
    if (member.server?.running) return;
    await member.hold.taken();
    const token = (this.token ??= `trellis-${randomUUID()}`);
    const initialCluster = this.state.map((m) => `${m.name}=http://127.0.0.1:${m.proxy.port}`).join(',');
    const args = etcdArgs({
      name: member.name, dataDir: member.dataDir, clientPort: member.clientPort, peerPort: member.peerPort,
      advertisedPeerUrl: `http://127.0.0.1:${member.proxy.port}`, initialCluster, clusterToken: token,
      heartbeatMs: this.options.heartbeatMs, electionMs: this.options.electionMs,
    });
    mkdirSync(member.dataDir, { recursive: true });
    const server = ServerProcess.spawn(ETCD, args, member.logFile, this.baseDir);
    member.server = server;
    try {
      // It listens on its ports while they are held.
      await waitUntilReady(server.child, {
        name: `etcd ${member.name}`, command: ETCD, port: member.clientPort, timeoutMs: this.startTimeoutMs, logFile: member.logFile,
        intervalMs: 100, probe: () => etcdHealthy(member.clientPort), readyMeans: 'become healthy',
      });
    } finally {
      await member.hold.release();
    }
  }

  /** Sends `signal` to member `index` (SIGKILL: a crash) and waits for it to exit; its data stays. */
  async kill(index: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const member = this.member(index);
    const server = member.server;
    await server?.signal(signal);
    await member.hold.holdIfEnded(server);
  }

  /** The index of the member that leads now, if one does (asked of every running member). */
  async leader(): Promise<number | undefined> {
    const answers = await Promise.all(this.state.map((m) => (m.server?.running ? etcdLeadership(m.clientPort) : undefined)));
    const index = answers.findIndex((a) => a?.isLeader);
    return index === -1 ? undefined : index;
  }

  serving(index: number): Promise<boolean> {
    return this.members[index]?.running ? etcdHealthy(this.member(index).clientPort) : Promise.resolve(false);
  }

  /** Whether member `index` knows a leader (a partitioned member loses it after an election timeout). */
  async hasLeader(index: number): Promise<boolean> {
    return (await etcdLeadership(this.member(index).clientPort))?.hasLeader ?? false;
  }

  protected override refreshLinks(): void {
    for (const member of this.state) member.proxy.refresh();
  }

  /** Kills every member, closes the proxies and removes the data. Idempotent. */
  async stop(): Promise<void> {
    await Promise.all(this.state.map((m) => m.server?.signal('SIGKILL')));
    await Promise.all(this.state.map((m) => m.hold.release()));
    await Promise.all(this.state.map((m) => m.proxy.close()));
    rmSync(this.baseDir, { recursive: true, force: true });
  }

  /** The member whose process dialled this (proxy-side) socket. */
  private memberOf(socket: Socket): string | undefined {
    const running = this.state.filter((m) => m.server?.running);
    const pid = loopbackPeerPid(socket.localPort ?? 0, socket.remotePort ?? 0, running.map((m) => m.server!.pid));
    return running.find((m) => m.server!.pid === pid)?.name;
  }

  private member(index: number): EtcdMemberState {
    const member = this.state[index];
    if (!member) throw new Error(`no member ${index} in a cluster of ${this.state.length}`);
    return member;
  }
}
