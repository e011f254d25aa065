import { Code, InterceptorOrder, RpcError, type CallEnd, type CallGate, type ClientPluginContext, type Interceptor, type Invocation } from '@trellis/core';
import type { Clock } from '@trellis/core/spi';
import type { BreakerConfig } from './breaker-config.js';
import { formatMs, REJECT, type Circuit } from './circuit.js';
import type { CircuitSet } from './circuit-set.js';
import { MethodRecorder, TimedMethodRecorder, type Held } from './method-recorder.js';
import { recordOutcome } from './record-outcome.js';

/**
 * Per-method (or per-service) circuits at InterceptorOrder.BREAKER: above retry, so it counts calls
 * as the caller sees them (a call retry saved elsewhere is a success, and a half-open probe is a whole
 * call retry can steer off a failing endpoint; one failing endpoint is the endpoint circuits' job),
 * and above routing, so an open circuit costs no routing, no pick and no socket. An open circuit fails
 * the call at once with UNAVAILABLE that names it; the call never ran (mayHaveRun false).
 *
 * Unary calls: a gate (`CallGate`, no promise layer) that is awake only while some method circuit
 * is not closed (`register`): then `callStart` takes the permit (a probe, or REJECT; nothing for a
 * closed circuit), `beforeCall` throws the rejection, and `callEnd` records the outcome (with the
 * permit, if any). While every circuit is closed — nearly every call — the gate is off the call path
 * and the recorder (method-recorder.ts) records instead. Stream calls keep the interceptor
 * (`interceptor`, registered for streams only): their circuit judges the set-up, which `callEnd`
 * (the stream's end) does not report.
 */
export class MethodBreaker implements CallGate<Held> {
  constructor(
    private readonly recorder: MethodRecorder,
    private readonly config: BreakerConfig,
    private readonly clock: Clock,
  ) {}

  /**
   * Adds the method level to a client: the gate, its recorder and the stream interceptor. The gate
   * sleeps while every circuit of `circuits` is closed — a closed circuit refuses nothing and hands
   * out no permit — and wakes when one opens (synchronously, before the state change is announced),
   * so the next call to start is judged by it; the recorder sleeps while the gate is awake.
   */
  static register(ctx: ClientPluginContext, circuits: CircuitSet, config: BreakerConfig, clock: Clock): void {
    const ownClock = clock !== ctx.clock;
    const recorder = ownClock ? new TimedMethodRecorder(circuits, config, clock) : new MethodRecorder(circuits, config, clock);
    const gate = new MethodBreaker(recorder, config, clock);
    ctx.addGate(gate, InterceptorOrder.BREAKER);
    ctx.observe(recorder);
    // Stream calls: the interceptor (set-up outcomes), whatever the gate does.
    ctx.addInterceptor(gate.interceptor, InterceptorOrder.BREAKER, 'streams');
    const awake = (judging: boolean): void => {
      // For a moment both are in the kernel's lists, but no call starts in between (one turn).
      ctx.setHookActive(gate, judging);
      ctx.setHookActive(recorder, !judging);
    };
    awake(circuits.notClosed !== 0);
    circuits.onAllClosedChange((allClosed) => awake(!allClosed));
  }

  /** Stream calls only: the set-up's outcome is recorded by the promise path. */
  readonly interceptor: Interceptor = (next) => (invocation) => {
    const circuit = this.recorder.circuitOf(invocation.method.service, invocation.method.name);
    if (circuit === null) return next(invocation);
    const started = this.clock.now();
    const permit = circuit.acquire(started);
    if (permit === REJECT) return Promise.reject(this.rejection(circuit, started));
    return recordOutcome(next(invocation), circuit, permit, started, this.clock, this.config.isFailure);
  };

  callStart(invocation: Invocation): Held | undefined {
    return this.recorder.hold(invocation);
  }

  beforeCall(_invocation: Invocation, held: Held | undefined): void {
    if (held !== undefined && held.permit === REJECT) throw this.rejection(held.circuit, held.started);
  }

  callEnd(call: CallEnd, held: Held | undefined): void {
    this.recorder.record(call, held);
  }

  private rejection(circuit: Circuit, now: number): RpcError {
    const detail = circuit.state === 'open'
      ? `half-open in ${formatMs(Math.max(0, circuit.openUntil - now))}, cool-down ${formatMs(circuit.coolDownMs)}`
      : 'half-open, its probe calls are in flight';
    return new RpcError(Code.UNAVAILABLE, `circuit open for ${circuit.key} (${detail}); the call was not sent`, { mayHaveRun: false });
  }
}
