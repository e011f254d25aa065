import { Code, isStreamKind, RpcError, type CallEnd, type CallGate, type Interceptor, type Invocation } from '@trellis/core';
import type { Clock } from '@trellis/core/spi';
import { LastHitMap } from '@trellis/core/toolkit';
import type { BreakerConfig } from './breaker-config.js';
import { formatMs, NORMAL, REJECT, type Circuit, type Permit } from './circuit.js';
import type { CircuitSet } from './circuit-set.js';
import { classify, Outcome } from './failure-codes.js';
import { recordOutcome } from './record-outcome.js';

/** A unary call that holds something of its circuit: a half-open probe's permit, a rejection, or a call timed on the breaker's own clock. */
interface Held {
  readonly circuit: Circuit;
  readonly permit: Permit;
  /** When the permit was taken (the breaker's clock). */
  readonly started: number;
}

/**
 * Per-method (or per-service) circuits at InterceptorOrder.BREAKER: above retry, so it counts calls
 * as the caller sees them (a call retry saved elsewhere is a success, and a half-open probe is a whole
 * call retry can steer off a failing endpoint; one failing endpoint is the endpoint circuits' job),
 * and above routing, so an open circuit costs no routing, no pick and no socket. An open circuit fails
 * the call at once with UNAVAILABLE that names it; the call never ran (mayHaveRun false).
 *
 * Unary calls: a gate (`CallGate`, no promise layer). While a circuit is closed — nearly every call —
 * `callStart` returns nothing, `beforeCall` passes, and `callEnd` records the kernel's code and
 * latency at the kernel's end reading (`CallEnd.endedAt`: no clock read). Otherwise `callStart` takes
 * the permit (a probe, or REJECT), `beforeCall` throws the rejection, and `callEnd` records the
 * probe's outcome with its permit. Stream calls keep the interceptor (`interceptor`, registered for
 * streams only): their circuit judges the set-up, which `callEnd` (the stream's end) does not report.
 */
export class MethodBreaker implements CallGate<Held> {
  /**
   * Method name → its circuit (null: no breaker for it), so a call costs one lookup, read through the
   * last hit: `callStart` and `callEnd` of a call (and the next call, mostly) ask for the same one.
   */
  private readonly byMethod = new LastHitMap<string, Circuit | null>();

  /** `ownClock`: the breaker was given a clock that is not the client's (tests): calls are timed on it. */
  constructor(
    private readonly circuits: CircuitSet,
    private readonly config: BreakerConfig,
    private readonly clock: Clock,
    private readonly ownClock = false,
  ) {
    config.onChange(() => this.byMethod.clear());
  }

  /** Stream calls only: the set-up's outcome is recorded by the promise path. */
  readonly interceptor: Interceptor = (next) => (invocation) => {
    const circuit = this.circuitOf(invocation.method.service, invocation.method.name);
    if (circuit === null) return next(invocation);
    const started = this.clock.now();
    const permit = circuit.acquire(started);
    if (permit === REJECT) return Promise.reject(this.rejection(circuit, started));
    return recordOutcome(next(invocation), circuit, permit, started, this.clock, this.config.isFailure);
  };

  callStart(invocation: Invocation): Held | undefined {
    if (isStreamKind(invocation.method.kind)) return undefined;
    const circuit = this.circuitOf(invocation.method.service, invocation.method.name);
    if (circuit === null || (circuit.state === 'closed' && !this.ownClock)) return undefined; // callEnd records it
    const started = this.clock.now();
    return { circuit, permit: circuit.acquire(started), started };
  }

  beforeCall(_invocation: Invocation, held: Held | undefined): void {
    if (held !== undefined && held.permit === REJECT) throw this.rejection(held.circuit, held.started);
  }

  callEnd(call: CallEnd, held: Held | undefined): void {
    const invocation = call.invocation;
    if (isStreamKind(invocation.method.kind)) return;
    const error = call.error;
    if (held !== undefined) {
      if (held.permit === REJECT) return; // refused here: nothing ran, nothing to learn
      const { circuit, permit, started } = held;
      if (error === undefined && !circuit.measuresLatency) return circuit.onResult(started, permit, Outcome.SUCCESS, 0);
      const now = this.ownClock ? this.clock.now() : call.endedAt;
      return circuit.onResult(now, permit, error === undefined ? Outcome.SUCCESS : classify(error, this.config.isFailure), now - started);
    }
    const circuit = this.circuitOf(invocation.method.service, invocation.method.name);
    if (circuit === null) return;
    // A closed circuit, a success: the fast path, no allocation.
    if (error === undefined && circuit.succeededClosed(call.endedAt, call.latencyMs)) return;
    const outcome = error === undefined ? Outcome.SUCCESS : classify(error, this.config.isFailure);
    circuit.onResult(call.endedAt, NORMAL, outcome, call.latencyMs);
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
