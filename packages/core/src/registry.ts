import { endpointId, type InstanceInfo, type Endpoint } from './endpoint.js';
import type { ServiceKey } from './service-key.js';

export interface Disposable {
  dispose(): void;
}

/** Which providers a consumer wants: a group and service name; versions are filtered by the client. */
export interface ServiceQuery {
  readonly group: string;
  readonly name: string;
}

export type EndpointsListener = (endpoints: readonly Endpoint[]) => void;

/**
 * Service discovery (Kitex's Registry + Resolver in one small interface).
 *
 * `subscribe` must call the listener once with the current list (possibly from a cache or snapshot)
 * as soon as it is known, then on every change. Implementations debounce bursts themselves and keep
 * the last list when the backend is unreachable — a consumer never gets an empty list because the
 * registry went down.
 */
export interface Registry {
  readonly name: string;
  register(service: ServiceKey, instance: InstanceInfo): Promise<void>;
  deregister(service: ServiceKey, instance: InstanceInfo): Promise<void>;
  subscribe(query: ServiceQuery, listener: EndpointsListener): Disposable;
  close(): Promise<void>;
}

export type ConfigListener = (document: string | undefined) => void;

/**
 * Rule documents (routes, breaker settings, rate limits) distributed to consumers, at
 * `/trellis/config/{group}/{service}/{name}`. Optional: registries that can watch keys implement it.
 * The listener gets the raw text (undefined when deleted); parsing and validation belong to the plugin.
 */
export interface ConfigSource {
  watchConfig(query: ServiceQuery, name: string, listener: ConfigListener): Disposable;
  /** Publishes a document (tests, admin tools); `undefined` deletes it. */
  putConfig?(query: ServiceQuery, name: string, document: string | undefined): Promise<void>;
}

export function isConfigSource(value: unknown): value is ConfigSource {
  return typeof (value as ConfigSource | undefined)?.watchConfig === 'function';
}

/** The key layout both real registries share (docs/architecture.md), exported so they cannot drift apart. */
export const RegistryPaths = {
  DEFAULT_ROOT: '/trellis',
  providers(root: string, query: ServiceQuery): string {
    return `${root}/services/${query.group}/${query.name}/providers`;
  },
  provider(root: string, query: ServiceQuery, host: string, port: number): string {
    return `${root}/services/${query.group}/${query.name}/providers/${endpointId(host, port)}`;
  },
  config(root: string, query: ServiceQuery, name: string): string {
    return `${root}/config/${query.group}/${query.name}/${name}`;
  },
} as const;
