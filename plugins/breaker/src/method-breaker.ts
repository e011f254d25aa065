import { Code, RpcError, type Interceptor } from '@trellis/core';
import type { Clock } from '@trellis/core/spi';
import type { BreakerConfig } from './breaker-config.js';
import { formatMs, REJECT, type Circuit } from './circuit.js';
import type { CircuitSet } from './circuit-set.js';
import { recordOutcome } from './record-outcome.js';

/**
 * Per-method (or per-service) circuits as a cluster interceptor at InterceptorOrder.BREAKER: above
 * retry, so it counts calls as the caller sees them (a call retry saved elsewhere is a success, and
 * a half-open probe is a whole call retry can steer off a failing endpoint; one failing endpoint is
 * the endpoint circuits' job), and above routing, so an open circuit costs no routing, no pick and
 * no socket. An open circuit fails the call at once with UNAVAILABLE that names it; the call never
 * ran (mayHaveRun false).
 */
export class MethodBreaker {
  /** Method name → its circuit (null: no breaker for it), so a call costs one lookup. */
  private byMethod = new Map<string, Circuit | null>();

  constructor(
    private readonly circuits: CircuitSet,
    private readonly config: BreakerConfig,
    private readonly clock: Clock,
  ) {
    config.onChange(() => (this.byMethod = new Map()));
  }

  readonly interceptor: Interceptor = (next) => (invocation) => {
    let circuit = this.byMethod.get(invocation.method.name);
    if (circuit === undefined) circuit = this.resolve(invocation.method.service, invocation.method.name);
    if (circuit === null) return next(invocation);
    const started = this.clock.now();
    const permit = circuit.acquire(started);
    if (permit === REJECT) return Promise.reject(this.rejection(circuit, started));
    return recordOutcome(next(invocation), circuit, permit, started, this.clock, this.config.isFailure);
  };

  private resolve(service: string, method: string): Circuit | null {
    const config = this.config.current;
    const settings = config.enabled ? config.method(config.scope === 'service' ? '' : method) : undefined;
    const circuit = settings === undefined ? null : this.circuits.get(config.scope === 'service' ? service : `${service}/${method}`, settings);
    this.byMethod.set(method, circuit);
    return circuit;
  }

  private rejection(circuit: Circuit, now: number): RpcError {
    const detail = circuit.state === 'open'
      ? `half-open in ${formatMs(Math.max(0, circuit.openUntil - now))}, cool-down ${formatMs(circuit.coolDownMs)}`
      : 'half-open, its probe calls are in flight';
    return new RpcError(Code.UNAVAILABLE, `circuit open for ${circuit.key} (${detail}); the call was not sent`, { mayHaveRun: false });
  }
}
