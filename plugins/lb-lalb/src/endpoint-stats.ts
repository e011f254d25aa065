import {
  DEFAULT_QPS,
  MAX_WEIGHT,
  QPS_MIN_SPAN_US,
  RATE_STEP_US,
  WEIGHT_SCALE,
} from './constants.js';
import { LatencyRing } from './latency-ring.js';

export interface StatsParams {
  readonly windowSize: number;
  readonly minWeight: number;
  readonly punishInflightRatio: number;
  /** Calls that ended longer ago leave the window (µs); Infinity keeps brpc's count-only window. */
  readonly maxSampleAgeUs: number;
  /** The power of the relative rate in the weight (see DEFAULT_RATE_EXPONENT); 1 is brpc's. */
  readonly rateExponent: number;
}

/**
 * What the balancer measured over all its endpoints, shared by their stats: the mean of the rates
 * their windows measured (per endpoint), refreshed periodically. The rate term of each weight is
 * taken relative to it. 0 while nothing has been measured, which leaves rates as measured.
 */
export interface TrafficRate {
  meanQps: number;
  /**
   * The floor of every endpoint's rate (the balancer's minQpsRatio × meanQps, at least DEFAULT_QPS;
   * brpc: DEFAULT_QPS, also when absent), read by the stats themselves (see recomputeBase).
   */
  minQps?: number;
}

const UNMEASURED: TrafficRate = Object.freeze({ meanQps: 0, minQps: DEFAULT_QPS });

/**
 * What LALB knows about one endpoint: brpc's `LocalityAwareLoadBalancer::Weight`. All times are
 * integer microseconds on the balancer's clock; weights are integers (see WeightTree).
 *
 * `baseWeight` is qps × WEIGHT_SCALE / avg_latency, learned from completed calls; `weight` is the
 * base after the in-flight punishment and the floor, recomputed whenever the balancer looks at it.
 */
export class EndpointStats {
  // Initialised here, not only in the constructor: a field declared bare starts as undefined (ES2022
  // class fields), V8 then keeps it untyped, and every fractional or large store to it allocates a
  // heap number (two per call here). Starting as a number, it is a number field written in place.
  weight = 0;
  baseWeight = 0;
  /** Average latency over the window (0 until the first sample). */
  avgLatencyUs = 0;
  /** The qps the base weight was computed from (DEFAULT_QPS until the window can measure one). */
  qps = DEFAULT_QPS;
  /** The rate the window measured, before any floor; 0 while it cannot measure one. */
  measuredQps = 0;
  /**
   * The base weight was capped as unreachable (brpc `MarkFailed`): it stays capped until the next
   * call's feedback recomputes it, as in brpc, not at the balancer's periodic refresh.
   */
  capped = false;
  /** The rate compression factor (qps / mean)^(e − 1), and the mean and step it was computed at. */
  private rateFactor = 1;
  private rateFactorMean = NaN;
  private rateFactorUntilUs = -Infinity;
  /** The exact rate term computeRateTerm last computed (see there). */
  private exactRateTerm = 0;
  private inflightCount = 0;
  private beginTimeSum = 0;
  private readonly ring: LatencyRing;

  constructor(
    initialWeight: number,
    private readonly params: StatsParams,
    private readonly traffic: TrafficRate = UNMEASURED,
  ) {
    this.weight = initialWeight;
    this.baseWeight = initialWeight;
    this.ring = new LatencyRing(params.windowSize);
  }

  get inflight(): number {
    return this.inflightCount;
  }

  get samples(): number {
    return this.ring.size;
  }

  /** Mean age of the calls still in flight (0 when none). */
  inflightDelayUs(nowUs: number): number {
    if (this.inflightCount === 0) return 0;
    return nowUs - Math.floor(this.beginTimeSum / this.inflightCount);
  }

  addInflight(beginUs: number): void {
    this.beginTimeSum += beginUs;
    this.inflightCount++;
  }

  removeInflight(beginUs: number): void {
    if (this.inflightCount === 0) return;
    this.inflightCount--;
    // Reset rather than subtract at zero: a clean slate after every idle moment.
    this.beginTimeSum = this.inflightCount === 0 ? 0 : this.beginTimeSum - beginUs;
  }

  /** The balancer's epoch moved up by `deltaUs`: every time kept here moves with it (exactly). */
  shiftTimes(deltaUs: number): void {
    this.beginTimeSum -= this.inflightCount * deltaUs;
    this.rateFactorUntilUs -= deltaUs;
    this.ring.shiftTimes(deltaUs);
  }

  /**
   * brpc `ResetWeight`: calls that have been in flight longer on average than avg_latency × ratio
   * mean the endpoint has slowed down *now*, long before the window of completed calls shows it; the
   * weight then shrinks in proportion (base × punish_latency / inflight_delay). The floor keeps every
   * endpoint reachable by an occasional probe, or it could never show that it recovered.
   */
  resetWeight(nowUs: number): number {
    this.updateWeight(nowUs);
    return this.weight;
  }

  /**
   * resetWeight without the result, for the balancer's per-call path: a weight is beyond V8's small
   * integers, and returned from a call V8 did not inline it is boxed into a heap number (16 B per
   * call, depending on V8's inlining budget in the caller).
   */
  updateWeight(nowUs: number): void {
    let weight = this.baseWeight;
    if (this.inflightCount > 0) {
      const inflightDelay = this.inflightDelayUs(nowUs);
      const punishLatency = Math.floor(this.avgLatencyUs * this.params.punishInflightRatio);
      if (inflightDelay >= punishLatency && this.avgLatencyUs > 0) {
        weight = Math.floor((weight * punishLatency) / inflightDelay);
      }
    }
    if (weight < this.params.minWeight) weight = this.params.minWeight;
    // Math.min, not `weight = MAX_WEIGHT` in a branch (the same for every number, NaN included): to
    // V8 an imported constant is an untyped property load (TypeScript's CommonJS output declares
    // every export undefined first), and merged with the computed weight in a branch it turned the
    // weight into a heap number on every call (16 B per pick and per feedback). Math.min's result
    // is a number.
    this.weight = Math.min(weight, MAX_WEIGHT);
  }

  /**
   * A successful call. Returns false when the window cannot produce a weight yet (brpc returns 0).
   * The rate's floor is the shared traffic's `minQps` (see recomputeBase).
   */
  recordSuccess(latencyUs: number, endUs: number): boolean {
    this.ring.push(latencyUs, endUs);
    return this.recomputeBase();
  }

  /**
   * A failed call, already converted to its penalised latency (see errorLatencyUs). brpc folds it
   * into the newest sample instead of adding one: the window's latency sum grows and its newest end
   * time moves on with no extra call, so errors both raise the latency and lower the qps. The very
   * first call failing counts as at least a timeout, since nothing better is known.
   */
  recordError(errorLatencyUs: number, timeoutUs: number, endUs: number): boolean {
    if (this.ring.size > 0) this.ring.foldIntoNewest(errorLatencyUs, endUs);
    else this.ring.push(Math.max(errorLatencyUs, timeoutUs), endUs);
    return this.recomputeBase();
  }

  /**
   * Drops the calls that ended more than the sample age limit before `nowUs`. Not in brpc: there a
   * call stays until 128 newer ones push it out, so an endpoint that gets only probes is judged for
   * minutes by what it did long ago, a frozen-then-resumed one by the timeouts of its freeze.
   * Returns true when something was dropped (the base weight then needs recomputing).
   */
  expire(nowUs: number): boolean {
    if (this.params.maxSampleAgeUs === Number.POSITIVE_INFINITY || this.ring.size === 0) return false;
    return this.ring.dropEndedBefore(nowUs - this.params.maxSampleAgeUs) > 0;
  }

  /**
   * Nothing recent is known (every call aged out): start over at `weight`, the balancer's average,
   * as a new endpoint does (brpc `Add`). The average latency stays as the in-flight punishment's
   * reference until a call ends. The rate is unknown again.
   */
  forget(weight: number): void {
    this.baseWeight = weight;
    this.qps = DEFAULT_QPS;
    this.measuredQps = 0;
    this.capped = false;
  }

  /**
   * brpc `MarkFailed`: an endpoint that cannot even be connected to keeps at most the average
   * weight, so a fast but dead endpoint does not keep attracting most of the picks.
   */
  capBaseWeight(averageWeight: number): boolean {
    if (this.baseWeight <= averageWeight) return false;
    this.baseWeight = averageWeight;
    this.capped = true;
    return true;
  }

  /**
   * The rate the weight is computed from (× WEIGHT_SCALE) when `rateExponent` is not 1 and a mean is
   * known: mean × (qps / mean)^e (brpc's measured qps when the exponent is 1, computed inline). It
   * keeps the weights in brpc's units (an endpoint at the mean rate gets the same weight either way)
   * but turns the traffic's feedback on itself from neutral into a contraction, so equal endpoints
   * converge to an even split instead of drifting. Computes the factor (qps / mean)^(e − 1) the
   * next RATE_STEP_US of calls reuse (recomputeBase applies it inline). The term is left in
   * `exactRateTerm`, not returned: a call's result is an untyped value to V8, and mixed with the
   * inline branches' numbers it made every rate of recomputeBase a heap number (64 B per call).
   */
  private computeRateTerm(measuredQps: number, mean: number, exponent: number, newestEndUs: number): void {
    const relative = measuredQps / mean;
    this.rateFactor = Math.pow(relative, exponent - 1);
    this.rateFactorMean = mean;
    this.rateFactorUntilUs = newestEndUs + RATE_STEP_US;
    this.exactRateTerm = Math.floor(mean * Math.pow(relative, exponent) * WEIGHT_SCALE);
  }

  /**
   * The tail of brpc `Weight::Update`: qps and average latency over the window, then the base.
   * The rate is floored at the shared traffic's `minQps` (brpc: DEFAULT_QPS, i.e. 1, also when the
   * traffic names none). Returns false, leaving the base as it was, when the window holds nothing to
   * compute from.
   */
  recomputeBase(): boolean {
    const ring = this.ring;
    const n = ring.size;
    if (n === 0) return false;
    const oldestEnd = ring.oldestEndUs;
    const newestEnd = ring.newestEndUs;
    // Read here, not passed in: a fractional floor handed over as an argument, or merged with one,
    // is boxed into a heap number on every call.
    const floor = this.traffic.minQps ?? DEFAULT_QPS;
    // Math.max, not a conditional between `floor` and DEFAULT_QPS: merged with an imported constant
    // (an untyped load to V8, see updateWeight) the fractional floor became a heap number on every
    // call (16 B per feedback). The two differ only for a NaN floor, which the balancer never sets
    // (its minQps is clamped at DEFAULT_QPS in refreshAll) and no caller passes.
    const floorQps = Math.max(floor, DEFAULT_QPS);
    let scaledQps = Math.floor(floorQps * WEIGHT_SCALE);
    let measured = 0;
    if (newestEnd > oldestEnd) {
      // A rate over a short, partly filled window is mostly noise: measure it only once the window
      // is full or spans a second; until then assume the floor.
      if (ring.isFull || newestEnd >= oldestEnd + QPS_MIN_SPAN_US) {
        const brpcRate = Math.floor(((n - 1) * 1_000_000 * WEIGHT_SCALE) / (newestEnd - oldestEnd));
        measured = brpcRate / WEIGHT_SCALE;
        const exponent = this.params.rateExponent;
        const mean = this.traffic.meanQps;
        let rate: number;
        if (exponent === 1 || !(mean > 0)) {
          rate = brpcRate;
        } else if (mean === this.rateFactorMean && newestEnd >= this.rateFactorUntilUs - RATE_STEP_US && newestEnd < this.rateFactorUntilUs) {
          // Within a step (RATE_STEP_US) of the last exact term, at the same mean: the measured rate ×
          // the factor computed then (mean × (qps / mean)^e = qps × (qps / mean)^(e − 1)), no Math.pow.
          // Here rather than in scaledRateTerm: a call there boxes its fractional arguments and result.
          rate = Math.floor(brpcRate * this.rateFactor);
        } else {
          this.computeRateTerm(measured, mean, exponent, newestEnd);
          rate = this.exactRateTerm;
        }
        if (rate > scaledQps) scaledQps = rate;
      }
      // The oldest slot only marks where the window starts: the n - 1 calls after it are averaged.
      this.avgLatencyUs = Math.floor(ring.windowLatencySum / (n - 1));
    } else if (n === 1) {
      this.avgLatencyUs = ring.onlyLatency;
    } else {
      // Several calls ended at the same instant (or the clock went back): no rate to compute.
      return false;
    }
    if (this.avgLatencyUs === 0) return false;
    this.qps = scaledQps / WEIGHT_SCALE;
    this.measuredQps = measured;
    this.capped = false;
    // latency^1, as brpc's code does (its doc still describes latency^2, the removed
    // quadratic_latency flag).
    this.baseWeight = Math.floor(scaledQps / this.avgLatencyUs);
    return true;
  }
}

/**
 * brpc's penalised latency of a failed call: a mix of the call's own latency × punish_error_ratio
 * and the timeout, weighted by the retries left and done, so an error that later retries are
 * unlikely to fix (the last allowed attempt, or no retries at all) counts as a whole timeout:
 *
 *   (nleft × latency × ratio + ndone × timeout) / (ndone + nleft)
 *
 * with ndone = retries done before this attempt and nleft = maxRetry − ndone when maxRetry > 0,
 * else ndone = 1, nleft = 0.
 */
export function errorLatencyUs(
  latencyUs: number,
  timeoutUs: number,
  retried: number,
  maxRetry: number,
  punishErrorRatio: number,
): number {
  let ndone = 1;
  let nleft = 0;
  if (maxRetry > 0) {
    ndone = Math.max(0, retried);
    nleft = Math.max(0, maxRetry - ndone);
  }
  return Math.floor(
    (nleft * Math.floor(latencyUs * punishErrorRatio) + ndone * timeoutUs) / (ndone + nleft),
  );
}
