export { LocalityAwareBalancer, type BalancerTiming, type EndpointSnapshot } from './locality-aware-balancer.js';
export { lalb, type LalbPlugin, type LalbPluginOptions } from './plugin.js';
export { BRPC_EXACT_OPTIONS, type LalbOptions } from './options.js';
export {
  WEIGHT_SCALE,
  DEFAULT_QPS,
  DEFAULT_WINDOW_SIZE,
  DEFAULT_MIN_WEIGHT,
  DEFAULT_PUNISH_INFLIGHT_RATIO,
  DEFAULT_PUNISH_ERROR_RATIO,
  DEFAULT_MIN_QPS_RATIO,
  DEFAULT_MAX_SAMPLE_AGE_MS,
  DEFAULT_RATE_EXPONENT,
} from './constants.js';
