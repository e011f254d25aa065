import { RpcClient, type Plugin, type Registry } from '@trellis/core';
import {
  loadEchoService, startEtcd, startZooKeeper, type EtcdServer, type ModuleRef, type ProviderProcess, type ZooKeeperServer,
} from '@trellis/testkit';
import { CALL_TIMEOUT_MS, consumerPlugins } from './governance.js';
import { RegistryAccess, type RegistryKind } from './registry-access.js';

export type { RegistryKind } from './registry-access.js';

/** A registry server, providers registered in it, and a consumer with retry, health and breaker on. */
export class Cluster {
  readonly providers: ProviderProcess[] = [];
  client!: RpcClient;
  private consumerRegistry!: Registry;
  private names = 0;
  private readonly access: RegistryAccess;

  private constructor(readonly kind: RegistryKind, readonly etcd?: EtcdServer, readonly zk?: ZooKeeperServer) {
    // One registry server: short TTLs so a killed provider leaves the list within the scenarios' time.
    this.access = new RegistryAccess(kind, etcd?.endpoints ?? zk!.connectString, 2000);
  }

  static async start(kind: RegistryKind, providers: number, options: { extraPlugins?: Plugin[]; attemptTimeoutMs?: number } = {}): Promise<Cluster> {
    const cluster = kind === 'etcd'
      ? new Cluster(kind, await startEtcd())
      : new Cluster(kind, undefined, await startZooKeeper({ tickTime: 500 }));
    for (let i = 0; i < providers; i++) await cluster.addProvider();
    cluster.consumerRegistry = cluster.makeRegistry();
    cluster.client = new RpcClient({
      service: loadEchoService(),
      registry: cluster.consumerRegistry,
      timeoutMs: CALL_TIMEOUT_MS,
      plugins: [...consumerPlugins(options.attemptTimeoutMs), ...(options.extraPlugins ?? [])],
    });
    // Waits, not bounds under test: generous for a loaded machine (forks and registrations take seconds).
    await cluster.client.waitForReady({ timeoutMs: 60_000, minEndpoints: providers });
    return cluster;
  }

  registryRef(): ModuleRef {
    return this.access.moduleRef();
  }

  makeRegistry(): Registry {
    return this.access.makeRegistry();
  }

  async addProvider(): Promise<ProviderProcess> {
    const provider = await this.access.startProvider(`p${++this.names}`);
    this.providers.push(provider);
    return provider;
  }

  /** Waits until the consumer's directory lists exactly these providers' ports. */
  async waitForList(ports: readonly number[], timeoutMs = 60_000): Promise<number> {
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
