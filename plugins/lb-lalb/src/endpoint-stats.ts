import {
  DEFAULT_QPS,
  MAX_WEIGHT,
  QPS_MIN_SPAN_US,
  WEIGHT_SCALE,
} from './constants.js';
import { LatencyRing } from './latency-ring.js';

export interface StatsParams {
  readonly windowSize: number;
  readonly minWeight: number;
  readonly punishInflightRatio: number;
}

/**
 * What LALB knows about one endpoint: brpc's `LocalityAwareLoadBalancer::Weight`. All times are
 * integer microseconds on the balancer's clock; weights are integers (see WeightTree).
 *
 * `baseWeight` is qps × WEIGHT_SCALE / avg_latency, learned from completed calls; `weight` is the
 * base after the in-flight punishment and the floor, recomputed whenever the balancer looks at it.
 */
export class EndpointStats {
  weight: number;
  baseWeight: number;
  /** Average latency over the window (0 until the first sample). */
  avgLatencyUs = 0;
  /** The qps the base weight was computed from (DEFAULT_QPS until the window can measure one). */
  qps = DEFAULT_QPS;
  private inflightCount = 0;
  private beginTimeSum = 0;
  private readonly ring: LatencyRing;

  constructor(
    initialWeight: number,
    private readonly params: StatsParams,
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

  /**
   * brpc `ResetWeight`: calls that have been in flight longer on average than avg_latency × ratio
   * mean the endpoint has slowed down *now*, long before the window of completed calls shows it; the
   * weight then shrinks in proportion (base × punish_latency / inflight_delay). The floor keeps every
   * endpoint reachable by an occasional probe, or it could never show that it recovered.
   */
  resetWeight(nowUs: number): number {
    let weight = this.baseWeight;
    if (this.inflightCount > 0) {
      const inflightDelay = this.inflightDelayUs(nowUs);
      const punishLatency = Math.floor(this.avgLatencyUs * this.params.punishInflightRatio);
      if (inflightDelay >= punishLatency && this.avgLatencyUs > 0) {
        weight = Math.floor((weight * punishLatency) / inflightDelay);
      }
    }
    if (weight < this.params.minWeight) weight = this.params.minWeight;
    if (weight > MAX_WEIGHT) weight = MAX_WEIGHT;
    this.weight = weight;
    return weight;
  }

  /** A successful call. Returns false when the window cannot produce a weight yet (brpc returns 0). */
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
   * brpc `MarkFailed`: an endpoint that cannot even be connected to keeps at most the average
   * weight, so a fast but dead endpoint does not keep attracting most of the picks.
   */
  capBaseWeight(averageWeight: number): boolean {
    if (this.baseWeight <= averageWeight) return false;
    this.baseWeight = averageWeight;
    return true;
  }

  /** The tail of brpc `Weight::Update`: qps and average latency over the window, then the base. */
  private recomputeBase(): boolean {
    const ring = this.ring;
    const n = ring.size;
    const oldestEnd = ring.oldestEndUs;
    const newestEnd = ring.newestEndUs;
    let scaledQps = DEFAULT_QPS * WEIGHT_SCALE;
    if (newestEnd > oldestEnd) {
      // A rate over a short, partly filled window is mostly noise: measure it only once the window
      // is full or spans a second; until then assume DEFAULT_QPS.
      if (ring.isFull || newestEnd >= oldestEnd + QPS_MIN_SPAN_US) {
        scaledQps = Math.floor(((n - 1) * 1_000_000 * WEIGHT_SCALE) / (newestEnd - oldestEnd));
        if (scaledQps < WEIGHT_SCALE) scaledQps = WEIGHT_SCALE;
      }
      // The oldest slot only marks where the window starts: the n - 1 calls after it are averaged.
      this.avgLatencyUs = Math.floor((ring.newestLatencySum - ring.oldestLatencySum) / (n - 1));
    } else if (n === 1) {
      this.avgLatencyUs = ring.newestLatencySum;
    } else {
      // Several calls ended at the same instant (or the clock went back): no rate to compute.
      return false;
    }
    if (this.avgLatencyUs === 0) return false;
    this.qps = scaledQps / WEIGHT_SCALE;
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
