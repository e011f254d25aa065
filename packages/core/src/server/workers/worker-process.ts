import cluster from 'node:cluster';
import type { ListenerAddress } from '../listener-set.js';
import { isWorkerMessage, WORKER_ENV, type WorkerMessage } from './worker-messages.js';

/** True in a worker forked by a Trellis worker group (not in another cluster's worker). */
export function isGroupWorker(): boolean {
  return cluster.isWorker && process.env[WORKER_ENV.GROUP] !== undefined;
}

/** Tells the primary this worker listens and is ready. */
export function announceReady(port: number, listeners?: readonly ListenerAddress[]): void {
  // A primary that died meanwhile makes the send fail (EPIPE) as an 'error' event on cluster.worker:
  // unhandled, it would crash this worker with a confusing trace; it exits on the disconnect anyway.
  if (cluster.worker && cluster.worker.listenerCount('error') === 0) cluster.worker.on('error', () => {});
  const message: WorkerMessage = { trellis: 'worker-ready', port, ...(listeners ? { listeners } : {}) };
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

/**
 * A worker leaves when its primary says so. Ctrl-C and a terminal's hang-up signal the whole process
 * group: a worker ended by them would drop its calls in flight, and the primary would count a crash
 * (SIGHUP is also the usual reload signal, meant for the primary). The primary decides: it drains
 * the workers on stop, or, if it dies, each worker exits when its IPC channel closes.
 */
export function leaveSignalsToThePrimary(): void {
  for (const signal of ['SIGINT', 'SIGHUP'] as const) process.on(signal, () => { /* the primary's decision */ });
}

/**
 * Answers the primary's `worker-inspect` with `inspect()` over the same cluster channel the group
 * already uses (the one prom-client's aggregator scrapes over), so the primary's console can show
 * every worker. Returns the undo.
 */
export function answerInspections(inspect: () => unknown): () => void {
  const listener = (message: unknown): void => {
    if (!isWorkerMessage(message) || message.trellis !== 'worker-inspect') return;
    let inspection: unknown;
    try {
      inspection = inspect();
    } catch (error) {
      inspection = { error: (error as Error)?.message ?? String(error) };
    }
    const answer: WorkerMessage = { trellis: 'worker-inspection', id: message.id, inspection };
    // A primary gone meanwhile: the callback takes the failure (else an 'error' event would crash us).
    process.send?.(answer, undefined, undefined, () => {});
  };
  process.on('message', listener);
  return () => process.off('message', listener);
}
