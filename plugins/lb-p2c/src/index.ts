export { P2cBalancer, type P2cSnapshot } from './p2c-balancer.js';
export { PeakEwma, PENALTY } from './peak-ewma.js';
export { p2c, type P2cPlugin, type P2cPluginOptions } from './plugin.js';
export { DEFAULT_DECAY_MS, type P2cOptions } from './options.js';
