import { isStreamKind, type CallEnd, type CallObserver, type Invocation } from '@trellis/core';
import type { Clock } from '@trellis/core/spi';
import { LastHitMap } from '@trellis/core/toolkit';
import type { BreakerConfig } from './breaker-config.js';
import { NORMAL, REJECT, type Circuit, type Permit } from './circuit.js';
import type { CircuitSet } from './circuit-set.js';
import { classify, Outcome } from './failure-codes.js';

/** A unary call that holds something of its circuit: a half-open probe's permit, a rejection, or a call timed on the breaker's own clock. */
export interface Held {
  readonly circuit: Circuit;
  readonly permit: Permit;
  /** When the permit was taken (the breaker's clock). */
  readonly started: number;
}

/**
 * Records unary calls' outcomes in their method (or service) circuits: the sliding windows that
 * open them. A call observer of its own (`ctx.observe`), so the recording goes on while the method
 * gate (method-breaker.ts) sleeps — which it does whenever every method circuit is closed, nearly
 * always: a call then costs this `callEnd` alone, one hook call instead of the gate's three
 * (`callStart`, `beforeCall`, `callEnd`). While the gate is awake this observer sleeps and the gate's
 * `callEnd` records through `record` here, so each call is recorded once, by whichever of the two
 * the call started with (the kernel keeps a call's hooks to its end).
 *
 * The gate's permits are taken here too (`hold`), so the two read one circuit map.
 */
export class MethodRecorder implements CallObserver<Held> {
  /**
   * Method name → its circuit (null: no breaker for it), so a call costs one lookup, read through the
   * last hit: a call's start and end (and the next call, mostly) ask for the same one.
   */
  private readonly byMethod = new LastHitMap<string, Circuit | null>();

  /** The breaker was given a clock that is not the client's (tests): calls are timed on it (TimedMethodRecorder). */
  protected readonly ownClock: boolean = false;

  constructor(
    private readonly circuits: CircuitSet,
    private readonly config: BreakerConfig,
    private readonly clock: Clock,
  ) {
    config.onChange(() => this.byMethod.clear());
  }

  /**
   * What a unary call starting now holds of its circuit: nothing while it is closed (the kernel's
   * times are used), else its permit (a probe, or REJECT); on the breaker's own clock, always its start.
   */
  hold(invocation: Invocation): Held | undefined {
    if (isStreamKind(invocation.method.kind)) return undefined;
    const circuit = this.circuitOf(invocation.method.service, invocation.method.name);
    if (circuit === null || (circuit.state === 'closed' && !this.ownClock)) return undefined; // callEnd records it
    const started = this.clock.now();
    return { circuit, permit: circuit.acquire(started), started };
  }

  callEnd(call: CallEnd, held: Held | undefined): void {
    this.record(call, held);
  }

  /** Records how a unary call ended (`held`: what `hold` gave it); the gate's `callEnd` and this observer's. */
  record(call: CallEnd, held: Held | undefined): void {
    const invocation = call.invocation;
    if (isStreamKind(invocation.method.kind)) return;
    const error = call.error;
    if (held !== undefined) {
      if (held.permit === REJECT) return; // refused by the gate: nothing ran, nothing to learn
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

  circuitOf(service: string, method: string): Circuit | null {
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
}

/**
 * A recorder on the breaker's own clock (tests): every call is timed on that clock, from its start
 * (`callStart`, while the gate sleeps; the gate's own `callStart` does it while awake).
 */
export class TimedMethodRecorder extends MethodRecorder {
  protected override readonly ownClock = true;

  callStart(invocation: Invocation): Held | undefined {
    return this.hold(invocation);
  }
}
