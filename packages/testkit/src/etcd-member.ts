import { get } from 'node:http';

/** Debian's etcd 3.4 (override with TRELLIS_ETCD). */
export const ETCD = process.env.TRELLIS_ETCD ?? '/usr/bin/etcd';

export interface EtcdMemberArgs {
  readonly name: string;
  readonly dataDir: string;
  readonly clientPort: number;
  /** Where the member listens for its peers. */
  readonly peerPort: number;
  /** The peer URL the others dial (a link proxy's, in a cluster whose links can be cut). */
  readonly advertisedPeerUrl: string;
  /** `name=peerUrl,…` for every member. */
  readonly initialCluster: string;
  /** Distinguishes clusters that could reuse ports: member and cluster ids derive from it. */
  readonly clusterToken?: string;
  readonly heartbeatMs?: number;
  readonly electionMs?: number;
}

/** The command line of one member: loopback only, its own ports and data directory. */
export function etcdArgs(member: EtcdMemberArgs): string[] {
  const client = `http://127.0.0.1:${member.clientPort}`;
  return [
    '--name', member.name, '--data-dir', member.dataDir,
    '--listen-client-urls', client, '--advertise-client-urls', client,
    '--listen-peer-urls', `http://127.0.0.1:${member.peerPort}`, '--initial-advertise-peer-urls', member.advertisedPeerUrl,
    '--initial-cluster', member.initialCluster, '--initial-cluster-state', 'new',
    ...(member.clusterToken ? ['--initial-cluster-token', member.clusterToken] : []),
    ...(member.heartbeatMs ? ['--heartbeat-interval', String(member.heartbeatMs)] : []),
    ...(member.electionMs ? ['--election-timeout', String(member.electionMs)] : []),
    '--logger=zap', '--log-level=warn',
  ];
}

/** etcd's own readiness probe: true once the member has a leader and serves reads. */
export function etcdHealthy(port: number): Promise<boolean> {
  return httpGet(port, '/health').then(
    ({ status, body }) => status === 200 && body.includes('"health":"true"'),
    () => false,
  );
}

/** What a member says about itself in /metrics: whether it leads, and whether it knows a leader. */
export async function etcdLeadership(port: number): Promise<{ isLeader: boolean; hasLeader: boolean } | undefined> {
  try {
    const { status, body } = await httpGet(port, '/metrics');
    if (status !== 200) return undefined;
    const gauge = (name: string): boolean => new RegExp(`^${name} 1$`, 'm').test(body);
    return { isLeader: gauge('etcd_server_is_leader'), hasLeader: gauge('etcd_server_has_leader') };
  } catch {
    return undefined;
  }
}

function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = get({ host: '127.0.0.1', port, path, timeout: 1000 }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`GET ${path} timed out`)));
    request.on('error', reject);
  });
}
