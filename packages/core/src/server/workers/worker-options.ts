import { availableParallelism } from 'node:os';
import type { BackoffOptions } from '../../backoff.js';
import { invalidOption } from '../../errors.js';
import { rejectUnknownKeys } from '../../options.js';

/** `RpcServer({ workers })`: how many worker processes serve the port, and how they are supervised. */
export interface WorkersOptions {
  /** Worker processes; `'auto'` = one per core (`os.availableParallelism()`). */
  readonly count: number | 'auto';
  /** The module each worker runs (default: the primary's entry point, `process.argv[1]`). */
  readonly exec?: string;
  /** A worker must listen and pass its readiness checks within this (default 30 s), else it is killed and counts as a crash. */
  readonly readyTimeoutMs?: number;
  /** Delay before a crashed worker is replaced (default 200 ms doubling to 10 s, ±20 %). */
  readonly respawnBackoff?: BackoffOptions;
  /** More crashes than this within `crashWindowMs` is a crash loop: no more respawns, the instance deregisters (default 5). */
  readonly maxCrashes?: number;
  /** The window crashes are counted in (default 60 s). */
  readonly crashWindowMs?: number;
  /** Lifecycle events (ready, exit, respawn, crash loop), for logs and tests. Must not throw. */
  readonly onEvent?: (event: WorkerEvent) => void;
}

export type WorkerState = 'starting' | 'ready' | 'draining';

export interface WorkerInfo {
  /** Stable per worker process for the life of the group (cluster's worker id). */
  readonly id: number;
  /**
   * The worker's place in the group, 1..count: a replacement (after a crash, or in a reload) takes
   * the place of the worker it replaces, so an operator can follow "worker 2" across restarts.
   */
  readonly slot: number;
  readonly pid: number | undefined;
  readonly state: WorkerState;
  /** When this worker process was forked (ms since the epoch). */
  readonly startedAt: number;
  /** How many times this slot's worker crashed and was replaced (reloads are not counted). */
  readonly restarts: number;
}

/** One worker's read-out for operators (`RpcServer.inspectWorkers()`): its info and its own `inspect()`. */
export interface WorkerInspection extends WorkerInfo {
  /** The worker server's `Inspection` (kernel figures and every plugin inspector), as it answered over IPC. */
  readonly inspection?: unknown;
  /** Why there is no inspection: the worker did not answer in time, or is still starting. */
  readonly error?: string;
}

export type WorkerEvent =
  | { readonly type: 'ready'; readonly worker: WorkerInfo }
  /** A worker ended; `planned` when the group asked it to (reload, stop). */
  | { readonly type: 'exit'; readonly worker: WorkerInfo; readonly code: number | null; readonly signal: string | null; readonly planned: boolean }
  | { readonly type: 'respawn'; readonly afterMs: number; readonly crashes: number }
  | { readonly type: 'crash-loop'; readonly crashes: number; readonly windowMs: number };

export interface ResolvedWorkersOptions {
  readonly count: number;
  readonly exec: string | undefined;
  readonly readyTimeoutMs: number;
  readonly respawnBackoff: BackoffOptions;
  readonly maxCrashes: number;
  readonly crashWindowMs: number;
  readonly onEvent: ((event: WorkerEvent) => void) | undefined;
}

const KEYS: readonly (keyof WorkersOptions)[] = ['count', 'exec', 'readyTimeoutMs', 'respawnBackoff', 'maxCrashes', 'crashWindowMs', 'onEvent'];

/** Validates `workers` (a count, `'auto'` or an options object); undefined means a single process. */
export function resolveWorkersOptions(value: number | 'auto' | WorkersOptions | undefined): ResolvedWorkersOptions | undefined {
  if (value === undefined) return undefined;
  const options: WorkersOptions = typeof value === 'object' && value !== null ? value : { count: value };
  if (typeof value === 'object' && value !== null) rejectUnknownKeys('RpcServer workers', value, KEYS, 'workers.');
  const count = options.count === 'auto' ? availableParallelism() : options.count;
  if (!(Number.isInteger(count) && count >= 1 && count <= 1024)) {
    throw invalidOption('workers', options.count, "an integer in 1..1024, 'auto', or { count, … }");
  }
  const positive = (name: keyof WorkersOptions, v: number | undefined, fallback: number): number => {
    if (v === undefined) return fallback;
    if (!(typeof v === 'number' && v > 0 && Number.isFinite(v))) throw invalidOption(`workers.${name}`, v, 'a positive number');
    return v;
  };
  if (options.exec !== undefined && typeof options.exec !== 'string') throw invalidOption('workers.exec', options.exec, 'a path to a module');
  if (options.onEvent !== undefined && typeof options.onEvent !== 'function') throw invalidOption('workers.onEvent', options.onEvent, 'a function (event) => void');
  const maxCrashes = options.maxCrashes ?? 5;
  if (!(Number.isInteger(maxCrashes) && maxCrashes >= 0)) throw invalidOption('workers.maxCrashes', maxCrashes, 'an integer ≥ 0');
  return {
    count,
    exec: options.exec,
    readyTimeoutMs: positive('readyTimeoutMs', options.readyTimeoutMs, 30_000),
    respawnBackoff: { initialMs: 200, maxMs: 10_000, ...options.respawnBackoff },
    maxCrashes,
    crashWindowMs: positive('crashWindowMs', options.crashWindowMs, 60_000),
    onEvent: options.onEvent,
  };
}
