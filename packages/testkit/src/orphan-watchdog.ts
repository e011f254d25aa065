import { spawn } from 'node:child_process';

/**
 * No exit hook runs when the test process is SIGKILLed (a tap timeout), and a server it started would
 * outlive it: a detached shell polls both PIDs, kills the child (and removes `removeDir`) once the
 * parent is gone, and ends by itself when the child does.
 */
export function killWhenParentDies(childPid: number, options: { removeDir?: string } = {}): void {
  const cleanup = options.removeDir === undefined ? '' : `; sleep 0.2; rm -rf '${options.removeDir.replace(/'/g, `'\\''`)}'`;
  const script = `while kill -0 ${process.pid} 2>/dev/null && kill -0 ${childPid} 2>/dev/null; do sleep 1; done; kill -0 ${process.pid} 2>/dev/null || { kill -9 ${childPid} 2>/dev/null${cleanup}; }; exit 0`;
  const watchdog = spawn('/bin/sh', ['-c', script], { detached: true, stdio: 'ignore' });
  watchdog.on('error', () => undefined);
  watchdog.unref();
}
