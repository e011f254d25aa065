import type { Endpoint } from '../endpoint.js';
import type { EndpointState, EndpointStateChange, HealthView } from '../health.js';
import type { Disposable } from '../registry.js';
import type { ClientTransport, ConnectionState } from '../transport.js';

function toEndpointState(state: ConnectionState): EndpointState {
  // Not yet dialled counts as healthy: connections are lazy, and the first call must be allowed to dial.
  return state === 'backoff' || state === 'draining' || state === 'closed' ? 'dead' : 'healthy';
}

/**
 * The kernel's default endpoint state view, from the connection pool alone: an endpoint is dead while
 * its dial is backing off or after it said GOAWAY, healthy otherwise. The health plugin replaces this
 * with heartbeats and availability.
 */
export class ConnectionHealthView implements HealthView {
  version = 0;
  private readonly states = new Map<string, EndpointState>();
  private readonly listeners = new Set<(change: EndpointStateChange) => void>();
  private readonly subscription: Disposable;

  constructor(transport: ClientTransport) {
    this.subscription = transport.onStateChange((event) => {
      const to = toEndpointState(event.state);
      const from = this.states.get(event.endpoint.id) ?? 'healthy';
      if (event.state === 'closed') this.states.delete(event.endpoint.id);
      else this.states.set(event.endpoint.id, to);
      if (from === to) return;
      this.version++;
      const change = { endpoint: event.endpoint, from, to, reason: event.reason };
      for (const listener of this.listeners) listener(change);
    });
  }

  state(endpoint: Endpoint): EndpointState {
    return this.states.get(endpoint.id) ?? 'healthy';
  }

  onChange(listener: (change: EndpointStateChange) => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  dispose(): void {
    this.subscription.dispose();
    this.listeners.clear();
  }
}
