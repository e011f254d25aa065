export { ConsistentHashBalancer, type HashSnapshot } from './consistent-hash-balancer.js';
export { consistentHash, type ConsistentHashPlugin, type ConsistentHashPluginOptions } from './plugin.js';
export {
  DEFAULT_VIRTUAL_NODES, DEFAULT_EPSILON,
  type ConsistentHashOptions, type HashKeyOptions, type HashAlgorithm,
} from './options.js';
export { DEFAULT_MAGLEV_TABLE_SIZE } from './maglev.js';
export { RingHash } from './ring-hash.js';
export { MaglevTable } from './maglev.js';
export type { HashTable, TableMember } from './hash-table.js';
