export { LeastLoadedBalancer } from './least-loaded-balancer.js';
export { AttemptStats, type EndpointStats } from './attempt-stats.js';
export { leastLoaded, type LeastLoadedPlugin } from './plugin.js';
