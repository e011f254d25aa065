import { spawn, type ChildProcess } from 'node:child_process';
import { killWhenParentDies } from '@trellis/testkit';

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface Finished extends Exit {
  readonly stdout: string;
  readonly stderr: string;
}

export interface SpawnOptions {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
}

/** Every process started here that has not exited: none may outlive the test. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/**
 * A process the way a user runs one in a terminal: its own output, signals by pid (Ctrl-C is SIGINT).
 * Output is kept in full for assertions and failure messages.
 */
export class UserProcess {
  private out = '';
  private err = '';
  private readonly child: ChildProcess;
  private readonly exit: Promise<Exit>;

  constructor(command: string, args: readonly string[], options: SpawnOptions) {
    this.child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const child = this.child;
    live.add(child);
    if (child.pid !== undefined) killWhenParentDies(child.pid);
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (this.out += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.err += chunk));
    this.exit = new Promise((resolve) => {
      child.once('error', (error) => {
        this.err += `${error.message}\n`;
        live.delete(child);
        resolve({ code: null, signal: null });
      });
      // 'close', not 'exit': the output pipes are drained by then.
      child.once('close', (code, signal) => {
        live.delete(child);
        resolve({ code, signal });
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get stdout(): string {
    return this.out;
  }

  get stderr(): string {
    return this.err;
  }

  /** The first line the process prints: the guide's servers print one once they serve. */
  async firstLine(timeoutMs: number): Promise<string> {
    const line = () => (this.out.includes('\n') ? this.out.slice(0, this.out.indexOf('\n')) : undefined);
    const stdout = this.child.stdout!;
    const printed = new Promise<string>((resolve, reject) => {
      const check = () => {
        const found = line();
        if (found === undefined) return;
        stdout.off('data', check);
        resolve(found);
      };
      stdout.on('data', check);
      check();
      void this.exit.then((exit) => reject(new Error(`exited (${describe(exit)}) before printing a line; stderr: ${this.err.slice(-2000)}`)));
    });
    return withTimeout(printed, timeoutMs, () => `printed no line within ${timeoutMs} ms; stderr: ${this.err.slice(-2000)}`);
  }

  /** Resolves when the process has exited (and its output is read); SIGKILL after `timeoutMs`. */
  async exited(timeoutMs: number): Promise<Finished> {
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.err += `\n[still running after ${timeoutMs} ms: SIGKILL]\n`;
        this.child.kill('SIGKILL');
        resolve();
      }, timeoutMs);
    });
    await Promise.race([this.exit, killed]);
    const exit = await this.exit;
    clearTimeout(timer);
    return { ...exit, stdout: this.out, stderr: this.err };
  }

  /** Sends a signal (SIGINT is what Ctrl-C sends) and waits for the exit. */
  stop(signal: NodeJS.Signals, timeoutMs: number): Promise<Finished> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited(timeoutMs);
  }
}

/** Runs a command to its end (SIGKILL after `timeoutMs`). */
export function runToEnd(command: string, args: readonly string[], options: SpawnOptions & { timeoutMs: number }): Promise<Finished> {
  return new UserProcess(command, args, options).exited(options.timeoutMs);
}

export function describe(exit: Exit): string {
  return exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message())), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
