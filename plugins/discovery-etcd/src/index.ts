export { EtcdRegistry, etcdRegistry } from './etcd-registry.js';
export type { EtcdRegistryOptions, EtcdClientExtras, ResolvedEtcdRegistryOptions } from './options.js';
export { EtcdErrorCodes } from './errors.js';
