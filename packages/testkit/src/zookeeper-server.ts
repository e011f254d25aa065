import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DowntimeHold } from './downtime-hold.js';
import { freePort, onFreePorts } from './free-port.js';
import { waitUntilReady } from './server-readiness.js';
import { ServerProcess } from './server-process.js';
import { baseConfig, fourLetterWord, JAVA, zooKeeperArgs } from './zookeeper-member.js';

export { fourLetterWord, zooKeeperMode } from './zookeeper-member.js';

export interface ZooKeeperServerOptions {
  /**
   * ZooKeeper's tick (default 2000 ms). Sessions are clamped to 2–20 ticks, so a low tick is what makes
   * session-expiry tests fast: tickTime 500 allows a 1 s session.
   */
  readonly tickTime?: number;
  /** How long to wait for `srvr` to answer `Mode: standalone` (default 60 s: only a guard; a JVM starts slowly on a loaded CI machine). */
  readonly startTimeoutMs?: number;
}

export interface ZooKeeperRestartOptions {
  /**
   * Start on an empty data directory (default false: a real restart keeps sessions and nodes on disk).
   * A wiped server refuses clients that saw a newer zxid until they open a fresh session.
   */
  readonly wipeData?: boolean;
}

export interface ZooKeeperServer {
  /** `127.0.0.1:PORT`, for `createClient` / the registry's `connectString`. */
  readonly connectString: string;
  readonly port: number;
  /** PID of the current java process (changes on restart). */
  readonly pid: number;
  readonly tickTime: number;
  /** SIGTERM, then SIGKILL after 5 s; waits for the exit and removes the data directory. Idempotent. */
  stop(): Promise<void>;
  /** Sends a signal to the java process and returns at once (SIGSTOP/SIGCONT simulate a hung server). */
  kill(signal?: NodeJS.Signals): void;
  /** Stops (keeping the data unless asked) and starts again on the same port. */
  restart(options?: ZooKeeperRestartOptions): Promise<void>;
}

/**
 * Starts Debian's ZooKeeper 3.8 standalone on a free loopback port with a temporary data directory and
 * resolves once `srvr` reports `Mode: standalone` (`ruok` answers `imok` before the server serves).
 */
export function startZooKeeper(options: ZooKeeperServerOptions = {}): Promise<ZooKeeperServer> {
  // The free port may be lost before the JVM binds it, seconds later on a loaded machine: see onFreePorts.
  return onFreePorts(() => startZooKeeperOnce(options));
}

async function startZooKeeperOnce(options: ZooKeeperServerOptions): Promise<ZooKeeperServer> {
  const tickTime = options.tickTime ?? 2000;
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  if (!Number.isInteger(tickTime) || tickTime < 50) throw new Error(`tickTime must be an integer ≥ 50, got ${tickTime}`);
  const port = await freePort();
  const baseDir = mkdtempSync(join(tmpdir(), 'trellis-zk-'));
  const dataDir = join(baseDir, 'data');
  const logFile = join(baseDir, 'zookeeper.log');
  const configFile = join(baseDir, 'zoo.cfg');
  mkdirSync(dataDir);
  writeFileSync(configFile, [...baseConfig(tickTime, dataDir, port), ''].join('\n'));

  let server: ServerProcess | undefined;
  let stopped = false;
  // Between a kill and the restart, the port stays refused and no other process gets it.
  const hold = new DowntimeHold([port]);

  const launch = async (): Promise<void> => {
    server = ServerProcess.spawn(JAVA, zooKeeperArgs(configFile, 'standalone'), logFile, baseDir);
    await waitUntilReady(server.child, {
      name: 'ZooKeeper', command: JAVA, port, timeoutMs: startTimeoutMs, logFile, intervalMs: 100,
      probe: async () => (await fourLetterWord(port, 'srvr', 1000)).includes('Mode: standalone'),
      readyMeans: 'report "Mode: standalone"',
    });
  };

  // A SIGSTOPped server would ignore SIGTERM until resumed: signal() sends SIGCONT first.
  const terminate = async (): Promise<void> => {
    await server?.signal('SIGTERM');
  };

  try {
    await launch();
  } catch (error) {
    await terminate();
    rmSync(baseDir, { recursive: true, force: true });
    throw error;
  }

  return {
    connectString: `127.0.0.1:${port}`,
    port,
    tickTime,
    get pid(): number {
      return server?.pid ?? -1;
    },
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      await terminate();
      await hold.release();
      rmSync(baseDir, { recursive: true, force: true });
    },
    kill(signal: NodeJS.Signals = 'SIGKILL'): void {
      if (!server?.running) return;
      server.child.kill(signal);
      if (signal !== 'SIGSTOP' && signal !== 'SIGCONT') hold.take(server.whenExited());
    },
    async restart(restartOptions: ZooKeeperRestartOptions = {}): Promise<void> {
      if (stopped) throw new Error('ZooKeeper server was stopped; start a new one');
      await terminate();
      await hold.taken();
      if (restartOptions.wipeData) {
        rmSync(dataDir, { recursive: true, force: true });
        mkdirSync(dataDir);
      }
      try {
        await launch(); // the JVM listens on the port while it is held
      } finally {
        await hold.release();
      }
    },
  };
}
