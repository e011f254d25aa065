export type CircuitState = 'closed' | 'open' | 'half-open';

/** Which level a circuit guards: one provider instance, or one method (or service) as a whole. */
export type CircuitKind = 'endpoint' | 'method';

/** A circuit changed state. Delivered to `onStateChange` listeners synchronously. */
export interface BreakerEvent {
  /** The consumer's service, `group/name`. */
  readonly service: string;
  readonly kind: CircuitKind;
  /** The endpoint id (`host:port`), or `service/Method` (`service` alone with scope 'service'). */
  readonly key: string;
  readonly from: CircuitState;
  readonly to: CircuitState;
  /** Why, in words: `12 of 20 calls failed (60 %) in the last 10 s`, `3 probe calls succeeded`, … */
  readonly reason: string;
  /** The cool-down now in force (meaningful when `to` is 'open'). */
  readonly coolDownMs: number;
  /** The breaker clock's time of the change. */
  readonly at: number;
}

/** One circuit as `states()` reports it. */
export interface CircuitSnapshot {
  readonly service: string;
  readonly kind: CircuitKind;
  readonly key: string;
  readonly state: CircuitState;
  /** Calls, failures and slow calls in the current window. */
  readonly calls: number;
  readonly failures: number;
  readonly slowCalls: number;
  readonly coolDownMs: number;
  /** While open: ms until the circuit turns half-open; 0 otherwise. */
  readonly halfOpenInMs: number;
}
