/**
 * brpc's LALB constants, kept in brpc's units (integer microseconds, fixed-point weights) so the
 * numbers below mean exactly what they mean in src/brpc/policy/locality_aware_load_balancer.cpp.
 */

/**
 * Fixed-point scale of a weight: a weight is `qps * WEIGHT_SCALE / avg_latency_us`. brpc derives it
 * as INT64_MAX / 72000000 / (INITIAL_WEIGHT_TREE_SIZE - 1) so 128 nodes' weights cannot overflow an
 * int64 sum; we keep the same value so that brpc's `min_weight` (1000) keeps its meaning.
 */
export const WEIGHT_SCALE = 1008680231;

/** brpc `DEFAULT_QPS`: the qps assumed until the ring spans enough time to measure one. */
export const DEFAULT_QPS = 1;

/** brpc `Weight::RECV_QUEUE_SIZE`: completed calls remembered per endpoint. */
export const DEFAULT_WINDOW_SIZE = 128;

/** brpc `--min_weight`: no endpoint's weight goes below this, so a slow one still gets probes. */
export const DEFAULT_MIN_WEIGHT = 1000;

/** brpc `--punish_inflight_ratio`: in-flight calls older than avg latency × this cut the weight. */
export const DEFAULT_PUNISH_INFLIGHT_RATIO = 1.5;

/** brpc `--punish_error_ratio`: the latency of a failed call counts this many times over. */
export const DEFAULT_PUNISH_ERROR_RATIO = 1.2;

/** brpc computes qps only once the ring is full or spans at least this long (1 s in µs). */
export const QPS_MIN_SPAN_US = 1_000_000;

/**
 * Not in brpc (it has int64). Weights live in doubles here, and the tree's sums stay exact only
 * while they are integers below 2^53; capping one weight at 2^42 keeps 2048 endpoints exact. Reaching
 * the cap takes ~4400 qps per µs of latency (100k qps at 22 µs) to a single endpoint.
 */
export const MAX_WEIGHT = 2 ** 42;

/**
 * Not in brpc (there: 1 qps, absolute). An endpoint's rate counts as at least this fraction of the
 * mean rate per endpoint. The rate in qps / latency is the traffic LALB itself sends, so an
 * endpoint it starved looks as if it could serve almost nothing, and brpc's floors (1 qps,
 * min_weight 1000) leave it about one call in 10^5: it can take minutes to notice that it got
 * faster. With 5 % it keeps a probe share of about 5 % / N × (its latency ÷ the fastest one's).
 */
export const DEFAULT_MIN_QPS_RATIO = 0.05;

/**
 * Not in brpc (there: none). Calls that ended longer ago than this leave the window, so what an
 * endpoint did before a freeze, a GC storm or a redeploy stops counting against it after this long.
 */
export const DEFAULT_MAX_SAMPLE_AGE_MS = 5000;

/**
 * Not in brpc (there: 1). The rate term of the weight is the endpoint's rate relative to the mean
 * rate per endpoint, raised to this power: weight ∝ mean × (qps / mean)^e / latency. brpc's weight
 * (e = 1) feeds an endpoint's traffic straight back into its weight, so between endpoints of equal
 * latency any split reproduces itself and drifts (one demo run ended at 95 / 5 %). Below 1 the
 * feedback contracts: the split settles where qps_i ∝ latency_i^(−1 / (1 − e)), even for equal
 * latencies, and still ~1 / 32 : 1 / 243 between 1, 2 and 3 ms at 0.8 (latency^−5).
 */
export const DEFAULT_RATE_EXPONENT = 0.8;

/**
 * How often an endpoint's rate compression (qps / mean)^(e − 1) is computed anew (µs of its calls'
 * end times): a Math.pow per outcome was the costliest line of LALB's feedback. Between two steps
 * the rate term is the measured rate × the step's factor, so it still follows every call; only the
 * factor, which moves as a small power of a rate averaged over the window, lags by at most 1 ms.
 */
export const RATE_STEP_US = 1000;

/**
 * How often the balancer re-evaluates every endpoint (ages its window, applies the current rate
 * floor and the in-flight punishment). brpc re-evaluates only the endpoint a pick or a feedback
 * touches; an endpoint that gets no calls would otherwise never be re-evaluated.
 */
export const REFRESH_INTERVAL_US = 100_000;

/**
 * A routed list not picked from for this long is dropped (rebuilt if it comes back: a map lookup
 * and one tree). Every list an endpoint is in costs a tree update per call it ends, and a directory
 * that changes (a warm-up ramp re-weights endpoints every few hundred ms) leaves old lists behind.
 */
export const LIST_IDLE_US = 2_000_000;

/**
 * What LALB learned about an endpoint is forgotten once it has been in no list picked from for this
 * long: it left the directory, or no route leads to it any more.
 */
export const FORGET_AFTER_US = 30_000_000;

/**
 * Lists kept at most; beyond it the least recently used is dropped. Each list an endpoint is in is
 * one more tree to update when its calls end; a few routed lists (v1, v2, a tenant's subset) is
 * the usual case.
 */
export const VIEW_CAP = 16;

/**
 * Not in brpc (its times are int64). LALB's times are integer µs since an epoch of the balancer's;
 * once they pass this (≈ 4.5 min) the epoch moves up to now and every stored time with it. Beyond
 * V8's small integers (2^30–2^31 µs, 18–36 min) a time that crosses a call V8 did not inline is a
 * heap number: an hour-old client's LALB allocated 32–80 B per call more than a fresh one.
 */
export const REBASE_AFTER_US = 2 ** 28;
