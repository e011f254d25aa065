import cluster from 'node:cluster';
import { isWorkerMessage, WORKER_ENV, type WorkerMessage } from './worker-messages.js';

/** True in a worker forked by a Trellis worker group (not in another cluster's worker). */
export function isGroupWorker(): boolean {
  return cluster.isWorker && process.env[WORKER_ENV.GROUP] !== undefined;
}

/** Tells the primary this worker listens and is ready. */
export function announceReady(port: number): void {
  const message: WorkerMessage = { trellis: 'worker-ready', port };
  process.send?.(message);
}

/**
 * Runs `drain` when the primary asks this worker to leave, then ends the process: the primary is
 * waiting for the exit, and the application's own handles (timers, registry clients) must not keep
 * a worker that serves nothing alive.
 */
export function onDrainRequest(drain: (graceMs: number, handOver: boolean) => Promise<void>): void {
  const listener = (message: unknown): void => {
    if (!isWorkerMessage(message) || message.trellis !== 'worker-drain') return;
    process.off('message', listener);
    drain(message.graceMs, message.handOver).finally(() => process.exit(0));
  };
  process.on('message', listener);
}
