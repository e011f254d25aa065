import { Code, isStreamKind, MetadataKeys, RpcError, type Invocation, type Invoker, type Result } from '@trellis/core';
import { afterPause, EMPTY_SET, ExponentialBackoff, withInvocation, type DeadlineEntry } from '@trellis/core/spi';
import { cameFromEndpoint, newRecord, retryAttemptsKey, type MutableAttemptRecord, type RetryDecision } from './attempt-record.js';
import type { ClientRuntime, MethodRuntime } from './client-runtime.js';
import { deadlineExceeded, giveUp, stoppedWith } from './give-up.js';

interface Settled {
  readonly record: MutableAttemptRecord;
  readonly result: Result | undefined;
  readonly error: unknown;
}

/** The backup timer fired. */
const HEDGE = Symbol('hedge');

interface Verdict {
  readonly decision: RetryDecision;
  /** Set when the call ends here with this error. */
  readonly error?: RpcError;
}

/**
 * One call as retry drives it: attempts in sequence (`run`), or with a backup racing the first
 * attempt (`runHedged`). Every attempt goes back through routing and the balancer (`next`), with the
 * endpoints that already failed this call excluded, the call's own deadline, and its number.
 */
export class RetryCall implements DeadlineEntry {
  /** DeadlineEntry slot for the backup timer. */
  bucket = 0;
  private readonly records: MutableAttemptRecord[];
  /** Endpoints that failed this call (created on the first failure: most calls never fail). */
  private failed: Set<string> | undefined;
  private readonly idempotent: boolean;
  private lastEndpointError: RpcError | undefined;
  private anyMayHaveRun = false;
  /** Every endpoint failed and `fallbackToFailed` is on: attempts may go anywhere again. */
  private fallback = false;
  private backoff: ExponentialBackoff | undefined;
  private delay = 0;
  // Hedging only (created by runHedged).
  private live!: Map<MutableAttemptRecord, AbortController>;
  private queue!: (Settled | typeof HEDGE)[];
  private wake: (() => void) | undefined;
  private timerArmed = false;
  private done = false;

  constructor(
    /** Below retry, for the interceptor forms (streams, hedging); undefined when the kernel runs the attempts (`RetryPolicy`). */
    private readonly next: Invoker | undefined,
    private readonly first: Invocation,
    private readonly runtime: ClientRuntime,
    private readonly method: MethodRuntime,
    /** When the call reached retry (the client's clock): the first attempt's start. */
    private readonly startedAt: number,
    /** The call's attempt records so far, already in its context (`run`'s first attempt). */
    records?: MutableAttemptRecord[],
  ) {
    if (records === undefined) first.context.set(retryAttemptsKey, (records = []));
    this.records = records;
    this.idempotent = first.method.idempotent || method.policy.idempotent;
  }

  /**
   * Attempts one after another until one answers or retry gives up (then it throws why). The first
   * attempt runs without an async frame and without a RetryCall: most calls succeed at once, and an
   * async function plus an await would cost them two more promises (and their hooks under an
   * AsyncLocalStorage context manager), the RetryCall ≈ 150 B of young garbage. Only a failure
   * builds one and goes on to the retry loop.
   */
  static run(next: Invoker, first: Invocation, runtime: ClientRuntime, method: MethodRuntime, startedAt: number): Promise<Result> {
    const records: MutableAttemptRecord[] = [];
    first.context.set(retryAttemptsKey, records);
    const record = newRecord(1, false, startedAt, first.excluded);
    records.push(record);
    let attempt: Promise<Result>;
    try {
      attempt = next(attemptInvocation(first, method, record, undefined));
    } catch (thrown) {
      attempt = Promise.reject(thrown);
    }
    return attempt.then(
      (result) => {
        succeeded(runtime, first, record, runtime.context.clock.now());
        return result;
      },
      (thrown: unknown) => new RetryCall(next, first, runtime, method, startedAt, records).retryAfter(record, thrown),
    );
  }

  /**
   * The kernel's attempt loop (`RetryPolicy.failed`): records the failure and decides; returns the
   * backoff before the next attempt, or throws the error the call ends with. `now`: the kernel's reading.
   */
  failedAt(record: MutableAttemptRecord, error: RpcError, now: number): number {
    this.afterFailure(record, error, false, now);
    return this.delay;
  }

  /**
   * The kernel's attempt loop (`RetryPolicy.resume`): the backoff is over (or the caller cancelled
   * during it); the same checks as `pause`, then the next attempt's record and invocation.
   */
  resumeAt(now: number, cancelled: boolean): { record: MutableAttemptRecord; invocation: Invocation } {
    if (cancelled) {
      throw new RpcError(Code.CANCELLED, `call cancelled by the caller while waiting to retry ${this.method.name}`, { mayHaveRun: this.anyMayHaveRun });
    }
    this.checkDeadline(now);
    const record = this.begin(false, this.nextExcluded(false), now);
    return { record, invocation: this.invocationFor(record, undefined) };
  }

  private async retryAfter(failed: MutableAttemptRecord, thrown: unknown): Promise<Result> {
    this.afterFailure(failed, RpcError.from(thrown), false);
    await this.pause();
    let record = this.begin(false, this.nextExcluded(false));
    let invocation = this.invocationFor(record, undefined);
    for (;;) {
      try {
        const result = await this.next!(invocation);
        this.succeed(record);
        return result;
      } catch (thrown) {
        this.afterFailure(record, RpcError.from(thrown), false);
        await this.pause();
        record = this.begin(false, this.nextExcluded(false));
        invocation = this.invocationFor(record, undefined);
      }
    }
  }

  /**
   * Like `run`, plus a backup: if the attempt in flight has not answered after the hedge delay, a
   * second one goes to another endpoint; the first answer wins and the other is cancelled (the
   * transport sends CANCEL, so the server stops working on it).
   */
  async runHedged(): Promise<Result> {
    this.live = new Map();
    this.queue = [];
    const callerSignal = this.first.signal;
    const onCallerAbort = (): void => {
      for (const controller of this.live.values()) controller.abort(callerSignal!.reason);
    };
    callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
    try {
      this.launch(false, this.first.excluded);
      for (;;) {
        const event = await this.nextEvent();
        if (event === HEDGE) {
          this.maybeHedge();
          continue;
        }
        this.live.delete(event.record);
        if (event.result !== undefined) {
          this.succeed(event.record);
          this.method.latency?.record(event.record.latencyMs!);
          return event.result;
        }
        if (this.afterFailure(event.record, RpcError.from(event.error), this.live.size > 0) === 'wait') continue;
        // Nothing is in flight now: a backup timer still pending (or fired during the backoff) belongs
        // to the failed attempt and must not send a backup of the next one at once.
        this.disarm();
        await this.pause();
        this.queue.length = 0;
        this.launch(false, this.nextExcluded(false));
      }
    } finally {
      this.done = true;
      this.disarm();
      callerSignal?.removeEventListener('abort', onCallerAbort);
      for (const controller of this.live.values()) {
        controller.abort(new RpcError(Code.CANCELLED, 'another attempt of this call answered first, or the call ended'));
      }
    }
  }

  /** The backup timer (DeadlineTimer entry). */
  onDeadline(): void {
    this.timerArmed = false;
    if (!this.done) this.push(HEDGE);
  }

  private launch(hedge: boolean, excluded: ReadonlySet<string>): void {
    const record = this.begin(hedge, excluded);
    const controller = new AbortController();
    this.live.set(record, controller);
    let pending: Promise<Result>;
    try {
      pending = this.next!(this.invocationFor(record, controller.signal));
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (result) => this.settle(record, result, undefined),
      (error: unknown) => this.settle(record, undefined, error),
    );
    if (!hedge) this.armHedge();
  }

  private settle(record: MutableAttemptRecord, result: Result | undefined, error: unknown): void {
    if (!this.done) return this.push({ record, result, error });
    // A loser finishing after the call ended: record how it ended, for tracing.
    record.latencyMs = this.runtime.context.clock.now() - record.startedAt;
    record.outcome = result !== undefined ? 'ok' : (error as RpcError)?.code === Code.CANCELLED ? 'cancelled' : 'failed';
    record.error = result === undefined ? RpcError.from(error) : undefined;
    record.decision = 'cancelled';
    this.emit(record);
  }

  private armHedge(): void {
    const delay = this.runtime.hedgeDelay(this.method);
    if (delay === undefined || this.records.length >= this.method.policy.maxAttempts) return;
    this.disarm();
    this.timerArmed = true;
    this.runtime.timer.add(this, this.runtime.context.clock.now() + delay);
  }

  private disarm(): void {
    if (!this.timerArmed) return;
    this.timerArmed = false;
    this.runtime.timer.remove(this);
  }

  /** Sends the backup if the first attempt is still alone, time and endpoints remain, and the budget allows. */
  private maybeHedge(): void {
    if (this.live.size !== 1 || this.records.length >= this.method.policy.maxAttempts) return;
    if (this.runtime.context.clock.now() >= this.first.deadline) return;
    const excluded = this.nextExcluded(true);
    if (!this.runtime.hasCandidate(excluded)) return;
    if (!this.method.hedgeBudget!.tryWithdraw()) return;
    this.launch(true, excluded);
  }

  private push(event: Settled | typeof HEDGE): void {
    this.queue.push(event);
    this.wake?.();
  }

  private nextEvent(): Promise<Settled | typeof HEDGE> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        resolve(this.queue.shift()!);
      };
    });
  }

  /** Endpoints the next attempt must avoid: those that failed, and for a backup those still busy with this call. */
  private nextExcluded(forBackup: boolean): ReadonlySet<string> {
    if (this.fallback) return EMPTY_SET;
    const excluded = new Set(this.failed ?? this.first.excluded);
    if (forBackup) for (const record of this.live.keys()) for (const id of record.tried) excluded.add(id);
    return excluded.size === 0 ? EMPTY_SET : excluded;
  }

  private begin(hedge: boolean, excluded: ReadonlySet<string>, now = this.runtime.context.clock.now()): MutableAttemptRecord {
    const record = newRecord(this.records.length + 1, hedge, now, excluded);
    this.records.push(record);
    return record;
  }

  private invocationFor(record: MutableAttemptRecord, signal: AbortSignal | undefined): Invocation {
    return attemptInvocation(this.first, this.method, record, signal);
  }

  private succeed(record: MutableAttemptRecord): void {
    succeeded(this.runtime, this.first, record, this.runtime.context.clock.now());
  }

  /** Records the failure and decides; throws the error the caller gets when retry stops here. */
  private afterFailure(record: MutableAttemptRecord, error: RpcError, othersPending: boolean, now = this.runtime.context.clock.now()): 'retry' | 'wait' {
    record.outcome = 'failed';
    record.error = error;
    record.latencyMs = now - record.startedAt;
    if (error.mayHaveRun) this.anyMayHaveRun = true;
    // Everything this attempt was sent to failed it (earlier ones refused it, the kernel moved on).
    const failed = (this.failed ??= new Set(this.first.excluded));
    for (const id of record.tried) failed.add(id);
    const fromEndpoint = cameFromEndpoint(error);
    if (fromEndpoint) this.lastEndpointError = error;
    const verdict = this.decide(record, error, othersPending, now, fromEndpoint);
    record.decision = verdict.decision;
    this.emit(record);
    if (verdict.error !== undefined) throw verdict.error;
    return verdict.decision === 'other-attempt-pending' ? 'wait' : 'retry';
  }

  private decide(record: MutableAttemptRecord, error: RpcError, othersPending: boolean, now: number, fromEndpoint: boolean): Verdict {
    const { policy } = this.method;
    const options = this.runtime.options;
    const name = this.method.name;
    if (this.first.signal?.aborted) return { decision: 'cancelled', error };
    if (!fromEndpoint && this.retryable(error, now)) {
      // No endpoint produced this error: routing (an open circuit, a rule, nothing left outside the
      // excluded set), the balancer or an interceptor below retry refused the attempt before one was
      // picked. The same call would be refused again, so it is not retried (Dubbo's failover does not
      // retry "no provider available" either) — unless `fallbackToFailed` may try failed ones again.
      if (othersPending) return { decision: 'other-attempt-pending' };
      if (options.fallbackToFailed && !this.fallback && record.excluded.size > 0) this.fallback = true;
      else return this.refused(record, error);
    }
    if (!this.retryable(error, now)) return { decision: 'not-retryable', error };
    // The provider the request may have run on can declare the method idempotent itself
    // (@RpcMethod({ idempotent: true }), published with its instance in the registry).
    if (error.mayHaveRun && !this.idempotent && record.endpoint?.methods?.[this.first.method.name]?.idempotent !== true) {
      return {
        decision: 'not-idempotent',
        error: giveUp(error, 'not-idempotent', `not retried: ${name} is not idempotent and the request may have run on ` +
          `${record.endpoint?.id ?? 'the server'}; if running it twice is safe, declare it idempotent ` +
          '(.proto idempotency_level, the client\'s methods option, retry({ methods }), or @RpcMethod({ idempotent: true }) on the provider)'),
      };
    }
    if (othersPending) return { decision: 'other-attempt-pending' };
    const attempts = this.records.length;
    if (attempts >= policy.maxAttempts) return { decision: 'max-attempts', error: giveUp(error, 'max-attempts', `gave up after ${attempts} attempts`) };
    const deadline = this.first.deadline;
    if (now >= deadline) {
      return { decision: 'deadline', error: deadlineExceeded(error, this.anyMayHaveRun, `deadline exceeded after ${attempts} attempt${attempts === 1 ? '' : 's'} of ${name}`) };
    }
    const delay = this.nextDelay();
    if (now + delay >= deadline) {
      return {
        decision: 'deadline',
        error: giveUp(error, 'deadline', `not retried: ${Math.max(0, deadline - now).toFixed(0)} ms were left before the deadline, less than the ${delay} ms backoff`),
      };
    }
    const failed = this.failed!;
    if (!this.fallback && failed.size > 0 && !this.runtime.hasCandidate(failed)) {
      if (!options.fallbackToFailed) return this.noEndpointLeft(error);
      this.fallback = true;
    }
    const budget = this.runtime.budget;
    if (budget !== undefined && !budget.tryWithdraw()) {
      const s = budget.snapshot();
      const { ratio, minPerSecond, windowMs } = budget.settings;
      return {
        decision: 'budget',
        error: giveUp(error, 'budget', `not retried: the retry budget is spent — ${s.spent} retries for ${s.calls} calls in the last ` +
          `${windowMs / 1000} s (ratio ${ratio}, floor ${minPerSecond}/s)`),
      };
    }
    this.delay = delay;
    return { decision: this.fallback ? 'fallback' : 'retry' };
  }

  /**
   * Stops after an attempt no endpoint served. If every endpoint already failed this call, that is
   * the reason; otherwise the refusal is: the caller gets the last real failure (if an earlier
   * attempt reached an endpoint) with the refusal quoted, or the refusal itself.
   */
  private refused(record: MutableAttemptRecord, error: RpcError): Verdict {
    const failed = this.failed!;
    if (failed.size > 0 && !this.runtime.hasCandidate(failed)) return this.noEndpointLeft(this.lastEndpointError ?? error);
    const last = this.lastEndpointError;
    if (last === undefined) return { decision: 'refused', error: stoppedWith(error, 'refused') };
    return {
      decision: 'refused',
      error: giveUp(last, 'refused', `not retried: attempt ${record.attempt} found no endpoint to send to: ${error.message}`),
    };
  }

  private noEndpointLeft(error: RpcError): Verdict {
    return {
      decision: 'no-endpoint-left',
      error: giveUp(error, 'no-endpoint-left', `not retried: every endpoint able to serve ${this.method.name} already failed this call (${[...this.failed!].join(', ')})`),
    };
  }

  /**
   * Which failures are worth another try: `retryIf` first, then `retryOn`; a request that provably
   * never ran (refused, rate-limited before the handler) always; and an attempt that hit its own
   * `attemptTimeoutMs` while the call still has time.
   */
  private retryable(error: RpcError, now: number): boolean {
    const verdict = this.runtime.options.retryIf?.(error, this.first);
    if (verdict !== undefined) return verdict;
    // The call's own deadline has passed: no time is left for another attempt, whatever retryOn says.
    if (error.code === Code.DEADLINE_EXCEEDED && now >= this.first.deadline) return false;
    if (this.method.policy.retryOn.has(error.code)) return true;
    if (!error.mayHaveRun && (error.code === Code.UNAVAILABLE || error.code === Code.RESOURCE_EXHAUSTED)) return true;
    return error.code === Code.DEADLINE_EXCEEDED && this.method.policy.attemptTimeoutMs !== undefined && now < this.first.deadline;
  }

  private nextDelay(): number {
    const settings = this.runtime.options.backoff;
    if (settings === undefined) return 0;
    this.backoff ??= new ExponentialBackoff(settings, this.runtime.options.random);
    return this.backoff.next();
  }

  /** The backoff before the next attempt; ends the call if the caller cancels or the deadline passes meanwhile. */
  private async pause(): Promise<void> {
    if (this.delay > 0 && await new Promise<boolean>((resolve) => afterPause(this.delay, this.first.signal, resolve))) {
      throw new RpcError(Code.CANCELLED, `call cancelled by the caller while waiting to retry ${this.method.name}`, { mayHaveRun: this.anyMayHaveRun });
    }
    this.checkDeadline(this.runtime.context.clock.now());
  }

  private checkDeadline(now: number): void {
    if (now >= this.first.deadline) {
      const last = this.records[this.records.length - 1]!;
      throw deadlineExceeded(last.error!, this.anyMayHaveRun, `deadline exceeded while waiting to retry ${this.method.name}`);
    }
  }

  private emit(record: MutableAttemptRecord): void {
    emitAttempt(this.runtime, this.first, record);
  }
}

/** The invocation an attempt is sent with: the call's own for a plain first attempt. */
export function attemptInvocation(first: Invocation, method: MethodRuntime, record: MutableAttemptRecord, signal: AbortSignal | undefined): Invocation {
  // A stream's deadline covers the whole stream (issue #18): an attempt timeout there would end
  // a healthy stream after `attemptTimeoutMs`, so streams keep the call's deadline.
  const timeout = isStreamKind(first.method.kind) ? undefined : method.policy.attemptTimeoutMs;
  if (record.attempt === 1 && signal === undefined && timeout === undefined) return first;
  let metadata = first.metadata;
  if (record.attempt > 1) {
    // Each attempt gets its own copy: interceptors below retry may add per-attempt entries.
    metadata = new Map(metadata);
    metadata.set(MetadataKeys.ATTEMPT, String(record.attempt));
  }
  return withInvocation(first, {
    attempt: record.attempt,
    excluded: record.excluded,
    metadata,
    deadline: timeout === undefined ? first.deadline : Math.min(first.deadline, record.startedAt + timeout),
    signal: signal ?? first.signal,
  });
}

/** The attempt answered (at `now`): its record says so, with its latency, and `onAttempt` hears of it. */
export function succeeded(runtime: ClientRuntime, first: Invocation, record: MutableAttemptRecord, now: number): void {
  record.outcome = 'ok';
  record.latencyMs = now - record.startedAt;
  emitAttempt(runtime, first, record);
}

function emitAttempt(runtime: ClientRuntime, first: Invocation, record: MutableAttemptRecord): void {
  const listener = runtime.options.onAttempt;
  if (listener === undefined) return;
  try {
    listener(record, first);
  } catch {
    // A listener's bug must not change the call's outcome.
  }
}
