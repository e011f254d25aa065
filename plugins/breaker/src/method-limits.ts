import { isStreamKind, RpcError, type ServerCallEnd, type ServerInvocation } from '@trellis/core';
import { classify, Outcome, type FailurePredicate } from './failure-codes.js';
import { RATE_OK, type LimitGate } from './limit-gate.js';

/**
 * The gates one method's calls pass (its service's, then its own), run in two rounds: every rate
 * check, then every concurrency check. A call turned away anywhere gets back what it took, so a
 * rejected call consumes no token and no slot: the rate counts calls that ran.
 */
export class MethodLimits {
  private readonly needsCaller: boolean;
  /** Some gate limits concurrency: an admitted call holds permits until `release`. */
  readonly limitsConcurrency: boolean;

  constructor(
    private readonly gates: readonly LimitGate[],
    private readonly callerKey: string,
    private readonly isFailure: FailurePredicate,
  ) {
    this.needsCaller = gates.some((g) => g.callers !== undefined);
    this.limitsConcurrency = gates.some((g) => g.concurrency !== undefined);
  }

  /**
   * Admits a call at `now` or throws its RESOURCE_EXHAUSTED (the call did not run). An admitted call
   * of a method with a concurrency limit holds a permit until `release`.
   */
  admit(call: ServerInvocation, now: number): void {
    const gates = this.gates;
    const n = gates.length;
    const caller = this.needsCaller ? (call.requestMetadata.get(this.callerKey) ?? '') : '';
    for (let i = 0; i < n; i++) {
      const why = gates[i]!.takeRate(now, caller);
      if (why !== RATE_OK) {
        for (let j = 0; j < i; j++) gates[j]!.refundRate(caller);
        gates[i]!.rejected++;
        throw gates[i]!.rateError(why, caller);
      }
    }
    if (this.limitsConcurrency) {
      for (let i = 0; i < n; i++) {
        const limiter = gates[i]!.concurrency;
        if (limiter === undefined || limiter.tryAcquire(now)) continue;
        for (let j = 0; j < n; j++) gates[j]!.refundRate(caller);
        for (let j = 0; j < i; j++) gates[j]!.concurrency?.cancel();
        gates[i]!.rejected++;
        throw gates[i]!.concurrencyError();
      }
    }
    for (let i = 0; i < n; i++) gates[i]!.accepted++;
  }

  /**
   * Gives an admitted call's permits back, however it ended (OK, error, cancel, deadline, refused by
   * a later gate). A stream (issue #18) held its permit while it was open: its duration says how long
   * the client kept it, not how fast the server is, so it is no latency sample; neither is a cancelled
   * call's (the caller's patience).
   */
  release(started: number, now: number, end: ServerCallEnd): void {
    let outcome: Outcome;
    if (isStreamKind(end.invocation.method.kind)) outcome = Outcome.IGNORED;
    else outcome = end.error === undefined ? Outcome.SUCCESS : classify(RpcError.from(end.error), this.isFailure);
    for (const gate of this.gates) {
      const limiter = gate.concurrency;
      if (limiter === undefined) continue;
      if (outcome === Outcome.IGNORED) limiter.cancel();
      else limiter.release(now, now - started, outcome === Outcome.FAILURE);
    }
  }
}
