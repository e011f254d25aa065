/** Messages between a test and its provider child processes. */
export interface ModuleRef {
  /** A package name or path, resolved from `from` (default: the parent's cwd). */
  readonly module: string;
  readonly export: string;
  readonly options?: unknown;
  readonly from?: string;
}

export interface Behaviour {
  /** Added latency for requests that ask for none. */
  readonly delayMs?: number;
  /** Fraction of requests failed with failCode (default UNAVAILABLE). */
  readonly failRate?: number;
  readonly failCode?: number;
}

export interface ProviderConfig {
  readonly name: string;
  readonly port?: number;
  readonly version?: string;
  readonly weight?: number;
  readonly tags?: Readonly<Record<string, string>>;
  readonly graceMs?: number;
  /** A factory returning a Registry, e.g. `{ module: '@trellis/discovery-etcd', export: 'etcdRegistry', options }`. */
  readonly registry?: ModuleRef;
  /** Factories returning server plugins. */
  readonly plugins?: readonly ModuleRef[];
  readonly behaviour?: Behaviour;
}

export interface ProviderStats {
  calls: number;
  byMethod: Record<string, number>;
  /** Calls seen per attempt number (1 = first try). */
  attempts: Record<string, number>;
  /** Handlers whose signal aborted (deadline, CANCEL, shutdown). */
  cancelled: number;
}

export type ProviderMessage =
  | { type: 'ready'; port: number }
  | { type: 'failed'; message: string }
  | { type: 'error'; message: string }
  | { type: 'closed' }
  | { type: 'stats'; stats?: ProviderStats }
  | { type: 'behaviour'; behaviour: Behaviour }
  | { type: 'behaviour-set' };
