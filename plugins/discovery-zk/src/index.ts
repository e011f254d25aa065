export { ZooKeeperRegistry, zookeeperRegistry } from './zookeeper-registry.js';
export type { ZooKeeperRegistryOptions, ZooKeeperEvent } from './options.js';
export { ZooKeeperErrorCodes } from './errors.js';
