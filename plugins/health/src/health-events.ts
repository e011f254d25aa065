import { EventEmitter } from 'node:events';
import type { Endpoint, EndpointState, EndpointStateChange } from '@trellis/core';

/** One state transition of one endpoint, as a consumer saw it. */
export interface HealthChangeEvent extends EndpointStateChange {
  /** The consumer's service key, `group/name:versionRange`. */
  readonly service: string;
  /** Wall-clock ms of the transition. */
  readonly at: number;
}

/** The outcome of one heartbeat (connected endpoints) or redial probe (dead endpoints). */
export interface HeartbeatEvent {
  readonly service: string;
  readonly endpoint: Endpoint;
  readonly kind: 'heartbeat' | 'probe';
  readonly ok: boolean;
  /** Round trip of the PING, when it was answered. */
  readonly rttMs?: number;
  readonly error?: string;
  /** It failed while this process's own event loop was stalled, so it was not counted. */
  readonly discounted: boolean;
  /** For probes: how long the monitor waited before this one (grows with exponential backoff). */
  readonly delayMs?: number;
  readonly at: number;
}

export interface HealthEventMap {
  change: [HealthChangeEvent];
  heartbeat: [HeartbeatEvent];
}

/**
 * Where users and other plugins (metrics, admin, the demo) learn of health as it happens. Listener
 * errors are reported as process warnings and never break the monitor.
 */
export class HealthEvents extends EventEmitter<HealthEventMap> {
  /** Emits without letting a throwing listener reach the caller. */
  safeEmit<K extends keyof HealthEventMap>(name: K, ...args: HealthEventMap[K]): void {
    if (this.listenerCount(name) === 0) return;
    try {
      (this.emit as (n: K, ...a: HealthEventMap[K]) => boolean)(name, ...args);
    } catch (error) {
      process.emitWarning(`a @trellis/health "${name}" listener threw: ${(error as Error)?.message ?? String(error)}`, 'TrellisWarning');
    }
  }
}

/** One line for logs and the demo: `10:32:05.120 group/svc:* 127.0.0.1:5001 healthy → subhealthy (3 heartbeats …)`. */
export function formatHealthChange(change: HealthChangeEvent): string {
  const time = new Date(change.at).toISOString().slice(11, 23);
  return `${time} ${change.service} ${change.endpoint.id} ${change.from} → ${change.to} (${change.reason})`;
}

/** A row of `plugin.states()`. */
export interface EndpointHealth {
  readonly service: string;
  readonly endpoint: Endpoint;
  readonly state: EndpointState;
  readonly reason: string;
  /** Wall-clock ms since which the endpoint has been in this state. */
  readonly since: number;
  /** Heartbeats failed in a row (discounted ones excluded). */
  readonly heartbeatFailures: number;
  readonly lastRttMs: number | undefined;
  /** Calls and successes in the availability window; undefined when the rule is off. */
  readonly availability: { readonly calls: number; readonly successes: number } | undefined;
}
