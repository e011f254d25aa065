export { LocalityAwareBalancer, type EndpointSnapshot } from './locality-aware-balancer.js';
export { lalb, type LalbPlugin, type LalbPluginOptions } from './plugin.js';
export type { LalbOptions } from './options.js';
export {
  WEIGHT_SCALE,
  DEFAULT_QPS,
  DEFAULT_WINDOW_SIZE,
  DEFAULT_MIN_WEIGHT,
  DEFAULT_PUNISH_INFLIGHT_RATIO,
  DEFAULT_PUNISH_ERROR_RATIO,
} from './constants.js';
