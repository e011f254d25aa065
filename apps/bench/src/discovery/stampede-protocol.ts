/** Messages between the stampede bench and its load processes (each hosting many registry clients). */

export type RegistryKind = 'etcd' | 'zookeeper';

export interface LoadConfig {
  readonly kind: RegistryKind;
  /** etcd endpoints or the ZooKeeper connect string. */
  readonly address: string;
  /** This process's registry clients: the first `providers` register one instance each, the rest subscribe. */
  readonly providers: number;
  readonly consumers: number;
  /** Index of this process's first registry client in the whole fleet (names and ports follow from it). */
  readonly firstClient: number;
  /** Index of this process's first provider among the fleet's providers: provider k serves service k mod `services`. */
  readonly firstProvider: number;
  readonly services: number;
  readonly servicesPerConsumer: number;
  /** Instances per service in the whole fleet: a consumer is complete once every list it follows has this many. */
  readonly expected: Readonly<Record<string, number>>;
  /** Registry options the run varies (backoff, fleetSize). */
  readonly registryOptions: Readonly<Record<string, unknown>>;
}

/**
 * What the registry clients did, each at a time (ms on the shared clock: performance.timeOrigin + now):
 * - `connect`: a TCP connection to the registry was established (any client, any member);
 * - `session`: a registry client got through to the registry again after the outage (ZooKeeper: its
 *   session connected, new or resumed; etcd: its first answered request);
 * - `create`: a session was created (ZooKeeper) or a lease granted (etcd);
 * - `read`: a read of the registry's data (ZooKeeper getChildren/getData/exists; etcd Range);
 * - `watch`: a watch set (ZooKeeper: a read with a watcher, or one path of the SetWatches the library
 *   sends on a connection whose session came up; etcd: a watch created on a watch stream);
 * - `expired`: a session or lease was lost and had to be replaced.
 */
export type EventKind = 'connect' | 'session' | 'create' | 'read' | 'watch' | 'expired';

export interface LoadReport {
  readonly events: Record<EventKind, number[]>;
  /** Consumers whose every list holds the expected number of instances. */
  readonly completeConsumers: number;
}

export type ToLoad = { type: 'outage' } | { type: 'report' } | { type: 'stop' };

export type FromLoad =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | { type: 'report'; report: LoadReport };

export const SERVICE_GROUP = 'default';
export const serviceName = (i: number): string => `bench.stampede.S${String(i).padStart(2, '0')}`;
