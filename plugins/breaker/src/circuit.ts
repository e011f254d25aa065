import type { CircuitSettings } from './breaker-options.js';
import type { CircuitState } from './events.js';
import { Outcome } from './failure-codes.js';
import { SlidingWindow } from './sliding-window.js';

/** What `acquire` hands out: REJECT, NORMAL (closed), or a probe of half-open episode n (n ≥ 1). */
export type Permit = number;
export const REJECT: Permit = -1;
export const NORMAL: Permit = 0;

/** Told about every change, so a set can version its state and emit events. */
export interface CircuitOwner {
  transitioned(circuit: Circuit, from: CircuitState, to: CircuitState, reason: string, now: number): void;
  /** A half-open circuit handed out or took back a probe slot (the router's view changes). */
  probesChanged(circuit: Circuit): void;
}

export function formatMs(ms: number): string {
  return ms >= 1000 ? `${+(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

/**
 * One circuit breaker: closed → (error or slow-call ratio over the window, with enough calls) →
 * open → (cool-down) → half-open → (`halfOpenProbes` probe calls succeed) → closed, or (a probe
 * fails) → open with the cool-down doubled, up to `maxCoolDownMs`. As in brpc, a circuit that trips
 * again within `maxCoolDownMs` of recovering also doubles its cool-down; one that stayed healthy
 * longer starts again from `coolDownMs`.
 *
 * Open → half-open happens lazily, when a call or a router looks at the circuit after the
 * cool-down: no timers to clean up, and a fake clock drives it in tests.
 */
export class Circuit {
  state: CircuitState = 'closed';
  coolDownMs: number;
  openUntil = 0;
  private window: SlidingWindow;
  /** Counts half-open periods, so a probe from an earlier one cannot decide the current one. */
  private episode = 0;
  private probesIssued = 0;
  private probesSucceeded = 0;
  /**
   * When the circuit last closed after a half-open episode. A call let through before then was in
   * flight while the circuit was open: its outcome belongs to the episode that opened it.
   */
  private lastClosedAt = -Infinity;
  /** Failures in a row while closed (a success resets it). */
  private consecutive = 0;
  /** When the last failure counted in `consecutive` ended. */
  private lastFailureAt = -Infinity;

  constructor(readonly key: string, private settings: CircuitSettings, private readonly owner: CircuitOwner) {
    this.coolDownMs = settings.coolDownMs;
    this.window = new SlidingWindow(settings.windowMs, settings.buckets);
  }

  /** May a call go through now? Half-open circuits hand out a bounded number of probe permits. */
  acquire(now: number): Permit {
    if (this.state === 'closed') return NORMAL;
    if (this.state === 'open') {
      if (now < this.openUntil) return REJECT;
      this.halfOpen(now);
    }
    if (this.probesIssued >= this.settings.halfOpenProbes) return REJECT;
    this.probesIssued++;
    this.owner.probesChanged(this);
    return this.episode;
  }

  /**
   * Whether outcomes need the call's latency (slow-call detection is on). When not, a success is
   * recorded at its start time and the interceptors skip a clock read: on the hot path a
   * performance.now() is a good part of the breaker's cost.
   */
  get measuresLatency(): boolean {
    return this.settings.slowCallMs > 0;
  }

  /** Half-open with a probe slot free. */
  get canProbe(): boolean {
    return this.state === 'half-open' && this.probesIssued < this.settings.halfOpenProbes;
  }

  /** Half-open with a probe still running (issued and not yet succeeded; a failure reopens). */
  get probing(): boolean {
    return this.state === 'half-open' && this.probesIssued > this.probesSucceeded;
  }

  /**
   * The common case of `onResult`, small enough for V8 to inline where it is called: a call let
   * through while closed (NORMAL) succeeded, and was not slow. Counts it, as `onResult` would, and
   * returns true; returns false, counting nothing, when anything else applies (the caller then calls
   * `onResult`). Inlined, its two times are never boxed into heap numbers: no allocation per call.
   */
  succeededClosed(now: number, latencyMs: number): boolean {
    if (this.state !== 'closed' || now - latencyMs < this.lastClosedAt) return false;
    const slowCallMs = this.settings.slowCallMs;
    if (slowCallMs > 0 && latencyMs >= slowCallMs) return false;
    this.window.record(now, false, false);
    this.consecutive = 0;
    return true;
  }

  /** Records how a call that got `permit` ended. */
  onResult(now: number, permit: Permit, outcome: Outcome, latencyMs: number): void {
    if (outcome === Outcome.IGNORED) {
      // The caller gave up: the probe proved nothing, so its slot goes to the next call.
      if (permit > 0 && permit === this.episode && this.state === 'half-open') {
        this.probesIssued--;
        this.owner.probesChanged(this);
      }
      return;
    }
    const failed = outcome === Outcome.FAILURE;
    const slow = this.settings.slowCallMs > 0 && latencyMs >= this.settings.slowCallMs;
    if (permit === NORMAL) {
      // A call let through while closed that ends after the circuit opened says nothing new; nor
      // does one that started before the circuit closed again (it was in flight while the circuit
      // was open): counted now, its failure would count a second time toward "in a row", its success
      // would reset a run of failures it never saw. Its start is `now - latencyMs`.
      if (this.state !== 'closed' || now - latencyMs < this.lastClosedAt) return;
      this.window.record(now, failed, slow);
      if (!failed) this.consecutive = 0;
      // "In a row" is one after another: a call that was already in flight when the last counted
      // failure ended (a dropped connection — one killed worker of a group — fails all of its calls
      // at once) is the same event, not another one — also after a success reset the run: that
      // event was counted once already. Without a latency (0) every failure counts.
      else if (now - latencyMs >= this.lastFailureAt) {
        this.consecutive++;
        this.lastFailureAt = now;
      }
      const limit = this.settings.consecutiveFailures;
      if (failed && limit > 0 && this.consecutive >= limit) this.open(now, `${this.consecutive} calls in a row failed`);
      else if (failed || slow) this.evaluate(now);
      return;
    }
    if (permit !== this.episode || this.state !== 'half-open') return;
    if (failed || slow) {
      this.open(now, failed ? 'a probe call failed' : `a probe call took ${formatMs(latencyMs)}`);
      return;
    }
    if (++this.probesSucceeded >= this.settings.halfOpenProbes) {
      this.close(now, `${this.probesSucceeded} probe call${this.probesSucceeded === 1 ? '' : 's'} succeeded`);
    } else {
      // The endpoint router shows a half-open endpoint only between probes: it may be picked again.
      this.owner.probesChanged(this);
    }
  }

  /** Open → half-open once the cool-down is over; true if that happened. */
  promote(now: number): boolean {
    if (this.state !== 'open' || now < this.openUntil) return false;
    this.halfOpen(now);
    return true;
  }

  /** New settings from a live document; the state is kept, the window only if its shape is. */
  update(settings: CircuitSettings): void {
    if (settings.windowMs !== this.settings.windowMs || settings.buckets !== this.settings.buckets) {
      this.window = new SlidingWindow(settings.windowMs, settings.buckets);
    }
    this.settings = settings;
    this.coolDownMs = Math.min(this.coolDownMs, settings.maxCoolDownMs);
  }

  counts(now: number) {
    return this.window.totals(now);
  }

  private evaluate(now: number): void {
    const { calls, failures, slow } = this.window.totals(now);
    const s = this.settings;
    if (calls < s.minCalls) return;
    const over = `in the last ${formatMs(s.windowMs)}`;
    if (failures >= s.errorRatio * calls) {
      this.open(now, `${failures} of ${calls} calls failed (${percent(failures, calls)}) ${over}`);
    } else if (s.slowCallMs > 0 && slow >= s.slowCallRatio * calls) {
      this.open(now, `${slow} of ${calls} calls took ≥ ${formatMs(s.slowCallMs)} (${percent(slow, calls)}) ${over}`);
    }
  }

  private open(now: number, reason: string): void {
    const from = this.state;
    const s = this.settings;
    const again = from === 'half-open' || now - this.lastClosedAt < s.maxCoolDownMs;
    this.coolDownMs = again && this.episode > 0 ? Math.min(this.coolDownMs * 2, s.maxCoolDownMs) : s.coolDownMs;
    this.state = 'open';
    this.openUntil = now + this.coolDownMs;
    this.window.reset();
    this.consecutive = 0;
    this.owner.transitioned(this, from, 'open', reason, now);
  }

  private halfOpen(now: number): void {
    this.state = 'half-open';
    this.episode++;
    this.probesIssued = 0;
    this.probesSucceeded = 0;
    this.owner.transitioned(this, 'open', 'half-open', `cool-down of ${formatMs(this.coolDownMs)} is over`, now);
  }

  private close(now: number, reason: string): void {
    this.state = 'closed';
    this.lastClosedAt = now;
    this.window.reset();
    this.consecutive = 0;
    this.owner.transitioned(this, 'half-open', 'closed', reason, now);
  }
}

function percent(part: number, whole: number): string {
  return `${Math.round((100 * part) / whole)} %`;
}
