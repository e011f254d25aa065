import { waitUntilReady } from './server-readiness.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { killWhenParentDies } from './orphan-watchdog.js';

export interface ZooKeeperServerOptions {
  /**
   * ZooKeeper's tick (default 2000 ms). Sessions are clamped to 2–20 ticks, so a low tick is what makes
   * session-expiry tests fast: tickTime 500 allows a 1 s session.
   */
  readonly tickTime?: number;
  /** How long to wait for `srvr` to answer `Mode: standalone` (default 20 s). */
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

const JAVA = process.env.TRELLIS_JAVA ?? 'java';
const CLASSPATH = [
  '/etc/zookeeper/conf',
  '/usr/share/java/zookeeper.jar',
  '/usr/share/java/slf4j-log4j12.jar',
  '/usr/share/java/log4j-1.2.jar',
].join(':');

/** Every live server of this process, so none outlives the test run (see killAllOnExit). */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Starts Debian's ZooKeeper 3.8 standalone on a free loopback port with a temporary data directory and
 * resolves once `srvr` reports `Mode: standalone` (`ruok` answers `imok` before the server serves).
 */
export async function startZooKeeper(options: ZooKeeperServerOptions = {}): Promise<ZooKeeperServer> {
  const tickTime = options.tickTime ?? 2000;
  const startTimeoutMs = options.startTimeoutMs ?? 20_000;
  if (!Number.isInteger(tickTime) || tickTime < 50) throw new Error(`tickTime must be an integer ≥ 50, got ${tickTime}`);
  installExitHook();

  const port = await freePort();
  const baseDir = mkdtempSync(join(tmpdir(), 'trellis-zk-'));
  const dataDir = join(baseDir, 'data');
  const logFile = join(baseDir, 'zookeeper.log');
  const configFile = join(baseDir, 'zoo.cfg');
  mkdirSync(dataDir);
  writeFileSync(
    configFile,
    [
      `tickTime=${tickTime}`,
      `dataDir=${dataDir}`,
      `clientPort=${port}`,
      'clientPortAddress=127.0.0.1',
      'maxClientCnxns=0',
      'admin.enableServer=false',
      '4lw.commands.whitelist=ruok,srvr,stat,mntr',
      '',
    ].join('\n'),
  );

  let child: ChildProcess | undefined;
  let stopped = false;

  const launch = async (): Promise<void> => {
    const log = openSync(logFile, 'a');
    try {
      child = spawn(
        JAVA,
        [
          '-Xmx256m',
          // Two cores and several servers in parallel test files: a cheap JIT and GC start faster.
          '-XX:+UseSerialGC',
          '-XX:TieredStopAtLevel=1',
          '-Dzookeeper.admin.enableServer=false',
          '-Dzookeeper.root.logger=INFO,CONSOLE',
          '-Dlog4j.configuration=file:/etc/zookeeper/conf/log4j.properties',
          '-cp',
          CLASSPATH,
          'org.apache.zookeeper.server.ZooKeeperServerMain',
          configFile,
        ],
        // The log goes to a file, not a pipe: the server must not block on a reader that went away.
        { stdio: ['ignore', log, log] },
      );
    } finally {
      closeSync(log);
    }
    const proc = child;
    live.add(proc);
    proc.once('exit', () => live.delete(proc));
    proc.once('error', () => live.delete(proc));
    if (proc.pid !== undefined) killWhenParentDies(proc.pid);
    await waitUntilReady(proc, {
      name: 'ZooKeeper', command: JAVA, port, timeoutMs: startTimeoutMs, logFile, intervalMs: 100,
      probe: async () => (await fourLetterWord(port, 'srvr', 1000)).includes('Mode: standalone'),
      readyMeans: 'report "Mode: standalone"',
    });
  };

  const terminate = async (): Promise<void> => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    // A SIGSTOPped server would ignore SIGTERM until resumed.
    proc.kill('SIGCONT');
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
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
      return child?.pid ?? -1;
    },
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      await terminate();
      rmSync(baseDir, { recursive: true, force: true });
    },
    kill(signal: NodeJS.Signals = 'SIGKILL'): void {
      if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    async restart(restartOptions: ZooKeeperRestartOptions = {}): Promise<void> {
      if (stopped) throw new Error('ZooKeeper server was stopped; start a new one');
      await terminate();
      if (restartOptions.wipeData) {
        rmSync(dataDir, { recursive: true, force: true });
        mkdirSync(dataDir);
      }
      await launch();
    },
  };
}

/** Sends a four-letter-word command and resolves with the whole answer (the server closes after it). */
export function fourLetterWord(port: number, command: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`${command} timed out`)));
    socket.on('connect', () => socket.end(command));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/** A normal exit (tap finishing, an uncaught error) kills every server synchronously. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const proc of live) {
      try {
        proc.kill('SIGKILL');
      } catch {
        // Already gone.
      }
    }
  });
}
