export { ZooKeeperRegistry, zookeeperRegistry } from './zookeeper-registry.js';
export type { ZooKeeperRegistryOptions, ZooKeeperEvent } from './options.js';
export type { ZooKeeperAcl, ZooKeeperAuth } from './auth.js';
export { ZooKeeperErrorCodes } from './errors.js';
