import type { Endpoint } from './endpoint.js';
import type { Disposable } from './registry.js';

/**
 * healthy: connected (or not yet dialled) and heartbeats succeed; subhealthy: connected but failing
 * heartbeats or low availability; dead: cannot connect, or the provider said GOAWAY.
 */
export type EndpointState = 'healthy' | 'subhealthy' | 'dead';

export interface EndpointStateChange {
  readonly endpoint: Endpoint;
  readonly from: EndpointState;
  readonly to: EndpointState;
  readonly reason: string;
}

/**
 * The endpoint state view the directory filters on. The kernel's default derives state from the
 * connection pool alone; the health plugin replaces it with heartbeats and availability.
 */
export interface HealthView {
  state(endpoint: Endpoint): EndpointState;
  /** Increments on every state change, so filters can cache their output per version. */
  readonly version: number;
  onChange(listener: (change: EndpointStateChange) => void): Disposable;
}
