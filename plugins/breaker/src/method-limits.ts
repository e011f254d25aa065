import { isStreamKind, RpcError, type ServerInvocation } from '@trellis/core';
import type { Clock, ServerInvoker } from '@trellis/core/spi';
import { classify, Outcome, type FailurePredicate } from './failure-codes.js';
import { RATE_OK, type LimitGate } from './limit-gate.js';

/**
 * The gates one method's calls pass (its service's, then its own), run in two rounds: every rate
 * check, then every concurrency check. A call turned away anywhere gets back what it took, so a
 * rejected call consumes no token and no slot: the rate counts calls that ran.
 */
export class MethodLimits {
  private readonly needsCaller: boolean;
  private readonly limitsConcurrency: boolean;

  constructor(
    private readonly gates: readonly LimitGate[],
    private readonly callerKey: string,
    private readonly clock: Clock,
    private readonly isFailure: FailurePredicate,
  ) {
    this.needsCaller = gates.some((g) => g.callers !== undefined);
    this.limitsConcurrency = gates.some((g) => g.concurrency !== undefined);
  }

  run(call: ServerInvocation, next: ServerInvoker): Promise<unknown> {
    const gates = this.gates;
    const n = gates.length;
    const started = this.clock.now();
    const caller = this.needsCaller ? (call.metadata.get(this.callerKey) ?? '') : '';
    for (let i = 0; i < n; i++) {
      const why = gates[i]!.takeRate(started, caller);
      if (why !== RATE_OK) {
        for (let j = 0; j < i; j++) gates[j]!.refundRate(caller);
        gates[i]!.rejected++;
        return Promise.reject(gates[i]!.rateError(why, caller));
      }
    }
    if (this.limitsConcurrency) {
      for (let i = 0; i < n; i++) {
        const limiter = gates[i]!.concurrency;
        if (limiter === undefined || limiter.tryAcquire(started)) continue;
        for (let j = 0; j < n; j++) gates[j]!.refundRate(caller);
        for (let j = 0; j < i; j++) gates[j]!.concurrency?.cancel();
        gates[i]!.rejected++;
        return Promise.reject(gates[i]!.concurrencyError());
      }
    }
    for (let i = 0; i < n; i++) gates[i]!.accepted++;
    if (!this.limitsConcurrency) return next(call);
    let result: Promise<unknown>;
    try {
      result = next(call);
    } catch (error) {
      result = Promise.reject(error);
    }
    // A stream (issue #18) holds its permit while it is open: the kernel settles `next` when its
    // handler is done, however it ended (OK, error, cancel, deadline, dropped connection). Its
    // duration says how long the client kept it, not how fast the server is: no latency sample.
    if (isStreamKind(call.method.kind)) {
      const release = (): void => this.release(started, Outcome.IGNORED);
      return result.then(
        (response) => {
          release();
          return response;
        },
        (error: unknown) => {
          release();
          throw error;
        },
      );
    }
    return result.then(
      (response) => {
        this.release(started, Outcome.SUCCESS);
        return response;
      },
      (error: unknown) => {
        this.release(started, classify(RpcError.from(error), this.isFailure));
        throw error;
      },
    );
  }

  private release(started: number, outcome: Outcome): void {
    const now = this.clock.now();
    for (const gate of this.gates) {
      const limiter = gate.concurrency;
      if (limiter === undefined) continue;
      // A cancelled call's latency is the caller's patience, not the server's speed: not a sample.
      if (outcome === Outcome.IGNORED) limiter.cancel();
      else limiter.release(now, now - started, outcome === Outcome.FAILURE);
    }
  }
}
