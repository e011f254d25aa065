import { join } from 'node:path';
import { RpcClient, type Plugin, type Registry } from '@trellis/core';
import { etcdRegistry } from '@trellis/discovery-etcd';
import { zookeeperRegistry } from '@trellis/discovery-zk';
import {
  loadEchoService, startEtcd, startProvider, startZooKeeper, type EtcdServer, type ModuleRef, type ProviderProcess,
  type ZooKeeperServer,
} from '@trellis/testkit';
import { consumerPlugins, providerPlugins } from './governance.js';

export type RegistryKind = 'etcd' | 'zookeeper';

/** A registry server, providers registered in it, and a consumer with retry, health and breaker on. */
export class Cluster {
  readonly providers: ProviderProcess[] = [];
  client!: RpcClient;
  private consumerRegistry!: Registry;
  private names = 0;

  private constructor(readonly kind: RegistryKind, readonly etcd?: EtcdServer, readonly zk?: ZooKeeperServer) {}

  static async start(kind: RegistryKind, providers: number, options: { extraPlugins?: Plugin[] } = {}): Promise<Cluster> {
    const cluster = kind === 'etcd'
      ? new Cluster(kind, await startEtcd())
      : new Cluster(kind, undefined, await startZooKeeper({ tickTime: 500 }));
    for (let i = 0; i < providers; i++) await cluster.addProvider();
    cluster.consumerRegistry = cluster.makeRegistry();
    cluster.client = new RpcClient({
      service: loadEchoService(),
      registry: cluster.consumerRegistry,
      timeoutMs: 2000,
      plugins: [...consumerPlugins(), ...(options.extraPlugins ?? [])],
    });
    await cluster.client.waitForReady({ timeoutMs: 15_000, minEndpoints: providers });
    return cluster;
  }

  /** The registry as a provider process loads it (by module name, resolved from this package). */
  registryRef(): ModuleRef {
    const from = join(__dirname, '..');
    return this.kind === 'etcd'
      ? { module: '@trellis/discovery-etcd', export: 'etcdRegistry', options: { endpoints: this.etcd!.endpoints, ttlSeconds: 2, snapshotDir: false, onError: undefined }, from }
      : { module: '@trellis/discovery-zk', export: 'zookeeperRegistry', options: { connectString: this.zk!.connectString, sessionTimeoutMs: 2000, snapshotDir: false }, from };
  }

  makeRegistry(): Registry {
    return this.kind === 'etcd'
      ? etcdRegistry({ endpoints: this.etcd!.endpoints, ttlSeconds: 2, snapshotDir: false, onError: () => {} })
      : zookeeperRegistry({ connectString: this.zk!.connectString, sessionTimeoutMs: 2000, snapshotDir: false, onError: () => {} });
  }

  async addProvider(): Promise<ProviderProcess> {
    const provider = await startProvider({
      name: `p${++this.names}`,
      registry: this.registryRef(),
      plugins: providerPlugins(join(__dirname, '..')),
      graceMs: 5000,
      // Real work per call, so a fault always catches calls in flight.
      behaviour: { delayMs: 20 },
    });
    this.providers.push(provider);
    return provider;
  }

  /** Waits until the consumer's directory lists exactly these providers' ports. */
  async waitForList(ports: readonly number[], timeoutMs = 15_000): Promise<number> {
    const started = performance.now();
    const want = [...ports].sort().join(',');
    while (this.client.endpoints.map((e) => e.port).sort().join(',') !== want) {
      if (performance.now() - started > timeoutMs) {
        throw new Error(`consumer list ${this.client.endpoints.map((e) => e.port)} never became ${want}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return performance.now() - started;
  }

  live(): ProviderProcess[] {
    return this.providers.filter((p) => !this.stopped.has(p));
  }

  readonly stopped = new Set<ProviderProcess>();

  async close(): Promise<void> {
    await this.client?.close();
    await this.consumerRegistry?.close();
    await Promise.all(this.providers.map((p) => p.kill('SIGKILL').catch(() => undefined)));
    await this.etcd?.stop();
    await this.zk?.stop();
  }
}
