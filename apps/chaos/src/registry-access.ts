import { join } from 'node:path';
import { etcdRegistry, type EtcdRegistry } from '@trellis/discovery-etcd';
import { zookeeperRegistry, type ZooKeeperRegistry } from '@trellis/discovery-zk';
import { startProvider, type ModuleRef, type ProviderProcess } from '@trellis/testkit';
import { providerPlugins } from './governance.js';

export type RegistryKind = 'etcd' | 'zookeeper';

/**
 * How every chaos scenario reaches its registry — one server (Cluster) or a three-member cluster
 * (RegistryFleet): the same registry options in the consumers and, by module reference, in the
 * provider processes. `address` is etcd's endpoint list or ZooKeeper's connect string; `ttlMs` is the
 * lease TTL (etcd) or session timeout (ZooKeeper).
 */
export class RegistryAccess {
  constructor(readonly kind: RegistryKind, readonly address: string, readonly ttlMs: number) {}

  /** The registry as a provider process loads it (by module name, resolved from this package). */
  moduleRef(): ModuleRef {
    const from = join(__dirname, '..');
    return this.kind === 'etcd'
      ? { module: '@trellis/discovery-etcd', export: 'etcdRegistry', options: { endpoints: this.address, ttlSeconds: this.ttlMs / 1000, snapshotDir: false }, from }
      : { module: '@trellis/discovery-zk', export: 'zookeeperRegistry', options: { connectString: this.address, sessionTimeoutMs: this.ttlMs, snapshotDir: false }, from };
  }

  /** A registry client in this process (a consumer's), quiet about the faults the scenarios inject. */
  makeRegistry(): EtcdRegistry | ZooKeeperRegistry {
    return this.kind === 'etcd'
      ? etcdRegistry({ endpoints: this.address, ttlSeconds: this.ttlMs / 1000, snapshotDir: false, onError: () => {} })
      : zookeeperRegistry({ connectString: this.address, sessionTimeoutMs: this.ttlMs, snapshotDir: false, onError: () => {} });
  }

  /** A provider process registered here, doing real work per call so a fault always catches calls in flight. */
  startProvider(name: string): Promise<ProviderProcess> {
    return startProvider({
      name,
      registry: this.moduleRef(),
      plugins: providerPlugins(join(__dirname, '..')),
      graceMs: 5000,
      behaviour: { delayMs: 20 },
    });
  }
}
