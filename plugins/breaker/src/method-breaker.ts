import { Code, isStreamKind, RpcError, type CallEnd, type CallObserver, type ContextValues, type Interceptor } from '@trellis/core';
import type { Clock } from '@trellis/core/spi';
import type { BreakerConfig } from './breaker-config.js';
import { formatMs, NORMAL, REJECT, type Circuit } from './circuit.js';
import type { CircuitSet } from './circuit-set.js';
import { classify, Outcome } from './failure-codes.js';
import { recordOutcome } from './record-outcome.js';

/**
 * Per-method (or per-service) circuits as a cluster interceptor at InterceptorOrder.BREAKER: above
 * retry, so it counts calls as the caller sees them (a call retry saved elsewhere is a success, and
 * a half-open probe is a whole call retry can steer off a failing endpoint; one failing endpoint is
 * the endpoint circuits' job), and above routing, so an open circuit costs no routing, no pick and
 * no socket. An open circuit fails the call at once with UNAVAILABLE that names it; the call never
 * ran (mayHaveRun false).
 *
 * The interceptor is only the gate. While a circuit is closed — nearly every call — it hands the
 * call on untouched (`next`'s own promise: no promise layer, no closure, no clock read) and the
 * outcome is recorded by this object's `callEnd`, the kernel's synchronous end-of-call hook, with the
 * kernel's code and latency. Calls that hold something else (a half-open probe's permit, a
 * rejection), stream calls (their circuit judges the set-up, which `callEnd` does not report) and a
 * breaker on its own clock (tests) keep the promise path and are skipped by `callEnd`.
 */
export class MethodBreaker implements CallObserver {
  /** Method name → its circuit (null: no breaker for it), so a call costs one lookup. */
  private byMethod = new Map<string, Circuit | null>();
  /**
   * The calls (by their context, shared by every invocation derived from the call) recorded by the
   * promise path: `callEnd` leaves them alone. Empty while every circuit is closed.
   */
  private readonly held = new Set<ContextValues>();

  /** `ownClock`: the breaker was given a clock that is not the client's (tests): calls are timed on it. */
  constructor(
    private readonly circuits: CircuitSet,
    private readonly config: BreakerConfig,
    private readonly clock: Clock,
    private readonly ownClock = false,
  ) {
    config.onChange(() => (this.byMethod = new Map()));
  }

  readonly interceptor: Interceptor = (next) => (invocation) => {
    const circuit = this.circuitOf(invocation.method.service, invocation.method.name);
    if (circuit === null) return next(invocation);
    if (circuit.state === 'closed' && !this.ownClock && !isStreamKind(invocation.method.kind)) return next(invocation); // callEnd records it
    const started = this.clock.now();
    const permit = circuit.acquire(started);
    if (this.held.size < MAX_HELD) this.held.add(invocation.context);
    if (permit === REJECT) return Promise.reject(this.rejection(circuit, started));
    return recordOutcome(next(invocation), circuit, permit, started, this.clock, this.config.isFailure);
  };

  /** Records a call the interceptor let through untouched (a closed circuit's NORMAL permit). */
  callEnd(call: CallEnd): void {
    const invocation = call.invocation;
    if (this.held.size !== 0 && this.held.delete(invocation.context)) return;
    if (this.ownClock || isStreamKind(invocation.method.kind)) return;
    const circuit = this.circuitOf(invocation.method.service, invocation.method.name);
    if (circuit === null) return;
    const error = call.error;
    const outcome = error === undefined ? Outcome.SUCCESS : classify(error, this.config.isFailure);
    circuit.onResult(this.clock.now(), NORMAL, outcome, call.latencyMs);
  }

  private circuitOf(service: string, method: string): Circuit | null {
    const circuit = this.byMethod.get(method);
    return circuit === undefined ? this.resolve(service, method) : circuit;
  }

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

/**
 * A bound on `held`: a call whose `callEnd` never comes with the same context (an interceptor outside
 * the breaker that builds a new invocation from scratch) would otherwise stay in it. Past the bound a
 * probe's outcome may be counted twice, which only moves a closed circuit's window by one call.
 */
const MAX_HELD = 10_000;
