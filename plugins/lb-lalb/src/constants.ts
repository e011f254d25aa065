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
