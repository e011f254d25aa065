import { fork, type ChildProcess } from 'node:child_process';

/** What a forked process says first: `{ type: 'ready', … }` once it serves, anything else when it could not start. */
export interface StartMessage {
  readonly type: string;
  /** Why it could not start (`{ type: 'failed', message }`). */
  readonly message?: string;
}

export interface ForkReadyOptions {
  /** Names the process in errors: `provider a`, `server for trellis`. */
  readonly label: string;
  /** Node flags of the child (default: the parent's, as `fork` does). */
  readonly execArgv?: string[];
  readonly env?: NodeJS.ProcessEnv;
}

export interface ForkedProcess<R> {
  readonly child: ChildProcess;
  /**
   * The child's first message when it is `{ type: 'ready' }`. Rejects with the child's own reason
   * when its first message is anything else, and when it exits before saying anything.
   */
  readonly ready: Promise<R>;
}

const running = new Set<ChildProcess>();
let killOnExit = false;

/**
 * Forks `entry` with an IPC channel (stdout and stderr inherited) and waits until it says it started:
 * the one way the demo's providers and the benchmarks' servers and workers are started. The child is
 * SIGKILLed if this process exits first, so a crashed run leaves no provider behind. `child` is
 * there at once (to pin it to a core before it starts serving); `ready` resolves with its `ready`
 * message (its port, …).
 */
export function forkReady<R extends StartMessage = StartMessage>(entry: string, args: readonly string[], options: ForkReadyOptions): ForkedProcess<R> {
  if (!killOnExit) {
    killOnExit = true;
    process.on('exit', () => running.forEach((child) => child.kill('SIGKILL')));
  }
  const child = fork(entry, [...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: options.execArgv, env: options.env });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const ready = new Promise<R>((resolve, reject) => {
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      reject(new Error(`${options.label} exited with ${signal ?? `code ${code}`} before it was ready`));
    };
    child.once('exit', onExit);
    child.once('message', (first: R) => {
      child.off('exit', onExit);
      if (first.type === 'ready') resolve(first);
      else reject(new Error(`${options.label} failed to start: ${first.message ?? first.type}`));
    });
  });
  return { child, ready };
}
