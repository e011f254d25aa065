import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface ReadinessOptions {
  /** What the server is, for messages: `etcd`, `ZooKeeper`. */
  readonly name: string;
  /** The command that was spawned, for the "could not run" message. */
  readonly command: string;
  readonly port: number;
  readonly timeoutMs: number;
  readonly logFile: string;
  readonly intervalMs: number;
  /** True once the server answers as ready. */
  probe(): Promise<boolean>;
  /** What "ready" means, for the timeout message: `healthy`, `report "Mode: standalone"`. */
  readonly readyMeans: string;
}

/**
 * Polls a freshly spawned server until its probe says ready; fails fast, with the log's tail, when the
 * process cannot be run or exits during start-up. Shared by the etcd and ZooKeeper launchers.
 */
export async function waitUntilReady(proc: ChildProcess, options: ReadinessOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let exited = false;
  let spawnError: Error | undefined;
  proc.once('exit', () => (exited = true));
  proc.once('error', (error) => (spawnError = error));
  while (Date.now() < deadline) {
    if (spawnError) throw new Error(`could not run ${options.command}: ${spawnError.message}`);
    if (exited) throw new Error(`${options.name} exited during start-up (port ${options.port})\n${logTail(options.logFile, options.name)}`);
    if (await options.probe().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
  }
  throw new Error(`${options.name} did not ${options.readyMeans} on 127.0.0.1:${options.port} within ${options.timeoutMs} ms\n${logTail(options.logFile, options.name)}`);
}

/** The last lines of a server's log, for error messages. */
export function logTail(file: string, name: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return `(no ${name} log)`;
  }
}
