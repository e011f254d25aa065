import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';
import { killWhenParentDies } from './orphan-watchdog.js';

/**
 * One registry server process (an etcd member, a ZooKeeper server) started by a launcher. Shared by
 * the single-server and the cluster launchers so that every server, however it was started, is killed
 * when the test process ends — normally (an exit hook) or by SIGKILL (`killWhenParentDies`).
 */
export class ServerProcess {
  private readonly exited: Promise<void>;

  private constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
  }

  /**
   * Spawns `command` with its output appended to `logFile` (a file, not a pipe: the server must not
   * block on a reader that went away). `dir` is removed with the server if the test process dies.
   */
  static spawn(command: string, args: readonly string[], logFile: string, dir?: string): ServerProcess {
    installExitHook();
    const log = openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(command, args, { stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
    const server = new ServerProcess(child);
    live.set(child, dir);
    const forget = (): void => void live.delete(child);
    child.once('exit', forget);
    child.once('error', forget);
    if (child.pid !== undefined) killWhenParentDies(child.pid, dir === undefined ? {} : { removeDir: dir });
    return server;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined;
  }

  /**
   * Sends a signal. SIGSTOP / SIGCONT return at once (the process does not exit); any other signal
   * resolves when the process has exited, with SIGKILL after `escalateMs` if it has not by then.
   */
  async signal(signal: NodeJS.Signals, escalateMs = 5000): Promise<void> {
    if (!this.running) return;
    if (signal === 'SIGSTOP' || signal === 'SIGCONT') {
      this.child.kill(signal);
      return;
    }
    this.child.kill('SIGCONT'); // a stopped process would hold SIGTERM until resumed
    this.child.kill(signal);
    const escalate = setTimeout(() => this.child.kill('SIGKILL'), escalateMs);
    await this.exited;
    clearTimeout(escalate);
  }

  /** Resolves when the process has exited (at once if it already has). */
  whenExited(): Promise<void> {
    return this.exited;
  }
}

/** Every live server of this process, with the directory to remove if the test process dies. */
const live = new Map<ChildProcess, string | undefined>();
let exitHookInstalled = false;

/** A normal exit (tap finishing, an uncaught error) kills every server and removes its data synchronously. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [child, dir] of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // Already gone.
      }
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
  });
}
