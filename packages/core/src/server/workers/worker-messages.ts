import type { ListenerAddress } from '../listener-set.js';

/**
 * The IPC messages between a worker group's primary and its workers (over node:cluster's channel).
 * Tagged with `trellis` so they never clash with the application's own cluster messages.
 */
export type WorkerMessage =
  /**
   * worker → primary: listening on `port` and every readiness check passed; `listeners`: every
   * listener (with `RpcServer({ listeners })`), for the primary's instance document.
   */
  | { readonly trellis: 'worker-ready'; readonly port: number; readonly listeners?: readonly ListenerAddress[] }
  /**
   * primary → worker: leave the group. `handOver`: the group keeps serving (a reload), so clients
   * are asked to reconnect (GOAWAY OK) rather than told the server stops.
   */
  | { readonly trellis: 'worker-drain'; readonly graceMs: number; readonly handOver: boolean }
  /** primary → worker: send your `inspect()` (the admin console asked); `id` pairs the answer. */
  | { readonly trellis: 'worker-inspect'; readonly id: number }
  /** worker → primary: the answer to `worker-inspect` `id`: the worker server's `inspect()`. */
  | { readonly trellis: 'worker-inspection'; readonly id: number; readonly inspection: unknown };

/**
 * Environment of a forked worker: set in every worker the group forks; a cluster worker without it
 * is not ours (PM2's, the application's own) and serves as a single process.
 */
export const WORKER_ENV = { GROUP: 'TRELLIS_WORKER_GROUP' } as const;

export function isWorkerMessage(message: unknown): message is WorkerMessage {
  return typeof message === 'object' && message !== null && typeof (message as { trellis?: unknown }).trellis === 'string';
}
