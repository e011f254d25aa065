import { waitUntilReady } from './server-readiness.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { killWhenParentDies } from './orphan-watchdog.js';

export interface EtcdServerOptions {
  /** Client port (default: a free one). Pass the port of a stopped server to replace it with an empty one. */
  readonly port?: number;
  /** How long to wait for `/health` to answer `"health":"true"` (default 15 s). */
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

const ETCD = process.env.TRELLIS_ETCD ?? '/usr/bin/etcd';

/** Every live server of this process, with its directory: none may outlive the test run. */
const live = new Map<ChildProcess, string>();
let exitHookInstalled = false;

/** Starts Debian's etcd 3.4 on free loopback ports with a temporary data directory; resolves when healthy. */
export async function startEtcd(options: EtcdServerOptions = {}): Promise<EtcdServer> {
  installExitHook();
  const port = options.port ?? (await freePort());
  const peerPort = await freePort();
  const baseDir = mkdtempSync(join(tmpdir(), 'trellis-etcd-'));
  const dataDir = join(baseDir, 'data');
  const logFile = join(baseDir, 'etcd.log');
  const client = `http://127.0.0.1:${port}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const args = [
    '--name', 't', '--data-dir', dataDir,
    '--listen-client-urls', client, '--advertise-client-urls', client,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `t=${peer}`, '--initial-cluster-state', 'new',
    '--logger=zap', '--log-level=warn',
  ];
  let child: ChildProcess | undefined;
  let stopped = false;

  const launch = async (): Promise<void> => {
    mkdirSync(dataDir, { recursive: true });
    // The log goes to a file, not a pipe: etcd must not block on a reader that went away.
    const log = openSync(logFile, 'a');
    try {
      child = spawn(ETCD, args, { stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
    const proc = child;
    live.set(proc, baseDir);
    proc.once('exit', () => live.delete(proc));
    proc.once('error', () => live.delete(proc));
    if (proc.pid !== undefined) killWhenParentDies(proc.pid, { removeDir: baseDir });
    await waitUntilReady(proc, {
      name: 'etcd', command: ETCD, port, timeoutMs: options.startTimeoutMs ?? 15_000, logFile,
      intervalMs: 50, probe: () => healthy(port), readyMeans: 'become healthy',
    });
  };

  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    if (sig === 'SIGSTOP' || sig === 'SIGCONT') {
      proc.kill(sig);
      return;
    }
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGCONT'); // a stopped process would hold SIGTERM until resumed
    proc.kill(sig);
    const escalate = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(escalate);
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
      return child?.pid ?? -1;
    },
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      await signal('SIGTERM');
      rmSync(baseDir, { recursive: true, force: true });
    },
    kill: (sig: NodeJS.Signals = 'SIGKILL') => signal(sig),
    async restart(): Promise<void> {
      if (stopped) throw new Error('etcd was stopped; start a new one');
      await signal('SIGTERM');
      await launch();
    },
  };
}

/** etcd's own readiness probe: true once the member has a leader and serves reads. */
function healthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const request = get({ host: '127.0.0.1', port, path: '/health', timeout: 1000 }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve(response.statusCode === 200 && body.includes('"health":"true"')));
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
  });
}

/** A normal exit (tap finishing, an uncaught error) kills every server and removes its data synchronously. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [proc, dir] of live) {
      proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
