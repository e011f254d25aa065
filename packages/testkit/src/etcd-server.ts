import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ETCD, etcdArgs, etcdHealthy } from './etcd-member.js';
import { DowntimeHold } from './downtime-hold.js';
import { freePort, onFreePorts } from './free-port.js';
import { waitUntilReady } from './server-readiness.js';
import { ServerProcess } from './server-process.js';

export interface EtcdServerOptions {
  /** Client port (default: a free one). Pass the port of a stopped server to replace it with an empty one. */
  readonly port?: number;
  /** How long to wait for `/health` to answer `"health":"true"` (default 60 s: only a guard; a loaded CI machine is slow to start it). */
  readonly startTimeoutMs?: number;
}

export interface EtcdServer {
  /** `http://127.0.0.1:PORT`, for the registry's `endpoints` option. */
  readonly endpoints: string;
  readonly port: number;
  /** PID of the current etcd process (changes on restart). */
  readonly pid: number;
  /** SIGTERM, then SIGKILL after 5 s; waits for the exit and removes the data directory. Idempotent. */
  stop(): Promise<void>;
  /**
   * Sends a signal to etcd and waits for it to exit. SIGSTOP / SIGCONT (a hung server and its
   * recovery) return at once, since the process does not exit.
   */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts etcd again on the same ports and data directory (after kill(), or stopping it first). */
  restart(): Promise<void>;
}

/** Starts Debian's etcd 3.4 on free loopback ports with a temporary data directory; resolves when healthy. */
export function startEtcd(options: EtcdServerOptions = {}): Promise<EtcdServer> {
  // Ports of our choosing may be lost before etcd binds them (see onFreePorts); a port the caller chose is theirs.
  return options.port === undefined ? onFreePorts(() => startEtcdOnce(options)) : startEtcdOnce(options);
}

async function startEtcdOnce(options: EtcdServerOptions): Promise<EtcdServer> {
  const port = options.port ?? (await freePort());
  const peerPort = await freePort();
  const baseDir = mkdtempSync(join(tmpdir(), 'trellis-etcd-'));
  const dataDir = join(baseDir, 'data');
  const logFile = join(baseDir, 'etcd.log');
  const client = `http://127.0.0.1:${port}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const args = etcdArgs({ name: 't', dataDir, clientPort: port, peerPort, advertisedPeerUrl: peer, initialCluster: `t=${peer}` });
  let server: ServerProcess | undefined;
  let stopped = false;
  // Between a kill and the restart, the ports stay refused and no other process gets them.
  const hold = new DowntimeHold([port, peerPort]);

  const launch = async (): Promise<void> => {
    mkdirSync(dataDir, { recursive: true });
    server = ServerProcess.spawn(ETCD, args, logFile, baseDir);
    await waitUntilReady(server.child, {
      name: 'etcd', command: ETCD, port, timeoutMs: options.startTimeoutMs ?? 60_000, logFile,
      intervalMs: 50, probe: () => etcdHealthy(port), readyMeans: 'become healthy',
    });
  };

  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    await server?.signal(sig);
  };

  try {
    await launch();
  } catch (error) {
    await signal('SIGKILL');
    rmSync(baseDir, { recursive: true, force: true });
    throw error;
  }

  return {
    endpoints: client,
    port,
    get pid(): number {
      return server?.pid ?? -1;
    },
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      await signal('SIGTERM');
      await hold.release();
      rmSync(baseDir, { recursive: true, force: true });
    },
    async kill(sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
      await signal(sig);
      await hold.holdIfEnded(server);
    },
    async restart(): Promise<void> {
      if (stopped) throw new Error('etcd was stopped; start a new one');
      await signal('SIGTERM');
      await hold.taken();
      try {
        await launch(); // etcd listens on its ports while they are held
      } finally {
        await hold.release();
      }
    },
  };
}
