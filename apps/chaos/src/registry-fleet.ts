import { RpcClient, type Registry } from '@trellis/core';
import type { EtcdRegistry } from '@trellis/discovery-etcd';
import type { ZooKeeperRegistry } from '@trellis/discovery-zk';
import {
  fourLetterWord, loadEchoService, startEtcdCluster, startZooKeeperEnsemble,
  type ModuleRef, type ProviderProcess, type RegistryCluster, type EtcdCluster, type ZooKeeperEnsemble,
} from '@trellis/testkit';
import { CALL_TIMEOUT_MS, consumerPlugins } from './governance.js';
import { RegistryAccess, type RegistryKind } from './registry-access.js';

export interface FleetOptions {
  readonly providers?: number;
  readonly consumers?: number;
  /** Each Echo attempt's cap in the consumers (RunOptions.attemptTimeoutMs). */
  readonly attemptTimeoutMs?: number;
}

/** Lease TTL (etcd) and session timeout (ZooKeeper) of every registry in the fleet. */
export const FLEET_TTL_MS = 5000;

interface Consumer {
  readonly client: RpcClient;
  readonly registry: EtcdRegistry | ZooKeeperRegistry;
}

/**
 * A registry cluster (3 etcd members or 3 ZooKeeper servers), provider processes registered through
 * it, and several consumers — each its own RpcClient with its own registry client, like separate
 * processes — with retry, health and breaker on. Every registry lists every member of the cluster.
 */
export class RegistryFleet {
  readonly providers: ProviderProcess[] = [];
  readonly consumers: Consumer[] = [];
  private names = 0;
  private readonly access: RegistryAccess;

  private constructor(readonly kind: RegistryKind, readonly cluster: RegistryCluster) {
    this.access = new RegistryAccess(kind, kind === 'etcd' ? (cluster as EtcdCluster).endpoints : (cluster as ZooKeeperEnsemble).connectString, FLEET_TTL_MS);
  }

  static async start(kind: RegistryKind, options: FleetOptions = {}): Promise<RegistryFleet> {
    const cluster = kind === 'etcd' ? await startEtcdCluster() : await startZooKeeperEnsemble({ tickTime: 500 });
    const fleet = new RegistryFleet(kind, cluster);
    try {
      await Promise.all(Array.from({ length: options.providers ?? 3 }, () => fleet.addProvider()));
      for (let i = 0; i < (options.consumers ?? 3); i++) {
        const registry = fleet.makeRegistry();
        const client = new RpcClient({ service: loadEchoService(), registry, timeoutMs: CALL_TIMEOUT_MS, plugins: consumerPlugins(options.attemptTimeoutMs) });
        fleet.consumers.push({ client, registry });
      }
      await Promise.all(fleet.consumers.map((c) => c.client.waitForReady({ timeoutMs: 30_000, minEndpoints: fleet.providers.length })));
    } catch (error) {
      await fleet.close();
      throw error;
    }
    return fleet;
  }

  /** The client addresses of the cluster, as a registry takes them. */
  get address(): string {
    return this.access.address;
  }

  registryRef(): ModuleRef {
    return this.access.moduleRef();
  }

  makeRegistry(): EtcdRegistry | ZooKeeperRegistry {
    return this.access.makeRegistry();
  }

  async addProvider(): Promise<ProviderProcess> {
    const provider = await this.access.startProvider(`p${++this.names}`);
    this.providers.push(provider);
    return provider;
  }

  /** For each consumer, ms until its directory lists `port` (polled every 20 ms), or undefined at the timeout. */
  async whenListed(port: number, timeoutMs = 30_000): Promise<(number | undefined)[]> {
    const started = performance.now();
    const seen: (number | undefined)[] = this.consumers.map(() => undefined);
    while (seen.some((s) => s === undefined) && performance.now() - started < timeoutMs) {
      this.consumers.forEach((c, i) => {
        if (seen[i] === undefined && c.client.endpoints.some((e) => e.port === port)) seen[i] = performance.now() - started;
      });
      await new Promise((r) => setTimeout(r, 20));
    }
    return seen;
  }

  /**
   * What a newcomer sees: a fresh registry subscribes and reports how many of `ports` it lists. Fresh,
   * so it shows what the cluster holds, not a consumer's cache.
   */
  async registered(ports: readonly number[], timeoutMs = 10_000): Promise<number> {
    const registry = this.makeRegistry();
    try {
      return await new Promise<number>((resolve) => {
        const timer = setTimeout(() => resolve(0), timeoutMs);
        registry.subscribe({ group: 'default', name: 'trellis.test.EchoService' }, (list) => {
          clearTimeout(timer);
          resolve(ports.filter((p) => list.some((e) => e.port === p)).length);
        });
      });
    } finally {
      await registry.close();
    }
  }

  /** Which member each consumer's registry talks to now (undefined while it is connected to none). */
  async consumerMembers(): Promise<(number | undefined)[]> {
    if (this.kind === 'etcd') {
      return this.consumers.map((c) => this.cluster.members.findIndex((m) => m.address === (c.registry as EtcdRegistry).endpoint));
    }
    const answers = await Promise.all(this.cluster.members.map((m) => (m.running ? fourLetterWord(m.clientPort, 'cons').catch(() => '') : '')));
    return this.consumers.map((c) => {
      const id = (c.registry as ZooKeeperRegistry).sessionId;
      if (!id) return undefined;
      const index = answers.findIndex((text) => text.includes(`sid=0x${id.replace(/^0+/, '')}`));
      return index === -1 ? undefined : index;
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.consumers.map(async (c) => {
      await c.client.close();
      await (c.registry as Registry).close?.();
    }));
    await Promise.all(this.providers.map((p) => p.kill('SIGKILL').catch(() => undefined)));
    await this.cluster.stop();
  }
}
