export { LeastLoadedBalancer } from './least-loaded-balancer.js';
export { leastLoaded } from './plugin.js';
