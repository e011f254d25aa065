import { ErrorCodes, TrellisError, type ServiceKey } from '@trellis/core';
import {
  instanceDocument, RegistryPaths, SnapshotStore,
  type ConfigListener, type ConfigSource, type Disposable, type EndpointsListener, type InstanceInfo,
  type Registry, type ServiceQuery,
} from '@trellis/core/spi';
import type { Etcd3 } from 'etcd3';
import { ConfigWatcher } from './config-watcher.js';
import { EndpointPin } from './endpoint-pin.js';
import { createEtcdClient } from './etcd-client.js';
import { EtcdErrorCodes, unreachable } from './errors.js';
import { LeaseKeeper } from './lease-keeper.js';
import { resolveOptions, type EtcdRegistryOptions, type ResolvedEtcdRegistryOptions } from './options.js';
import { ServiceWatcher, type ServiceWatcherOptions } from './service-watcher.js';
import { withTimeout } from './timeout.js';

const SEGMENT = /^[A-Za-z0-9_.-]+$/;

/** What ServiceWatcher and ConfigWatcher have in common: listeners sharing one watch. */
interface SharedWatcher<L> {
  readonly listenerCount: number;
  remove(listener: L): void;
  close(): Promise<void>;
}

/**
 * Service discovery and rule documents on etcd v3 (layout in docs/architecture.md, shared through
 * `RegistryPaths`). Providers' keys live under one lease per registry; consumers mirror each service
 * with one watch, debounced, backed by a local snapshot. Pass it to clients and servers as their
 * `registry` option; it is not a plugin.
 */
export class EtcdRegistry implements Registry, ConfigSource {
  readonly name = 'etcd';
  readonly options: ResolvedEtcdRegistryOptions;
  private readonly client: Etcd3;
  private readonly pin: EndpointPin;
  private readonly keeper: LeaseKeeper;
  private readonly snapshots: SnapshotStore | undefined;
  private readonly services = new Map<string, ServiceWatcher>();
  private readonly configs = new Map<string, ConfigWatcher>();
  private readonly watcherOptions: ServiceWatcherOptions;
  private closing: Promise<void> | undefined;

  constructor(options: EtcdRegistryOptions = {}) {
    this.options = resolveOptions(options);
    const report = (error: TrellisError): void => {
      try {
        this.options.onError(error);
      } catch {
        // A faulty error handler must not break discovery.
      }
    };
    const common = { ...this.options, report };
    this.pin = new EndpointPin(this.options.endpoints);
    this.client = createEtcdClient(this.options, this.pin);
    this.keeper = new LeaseKeeper(this.client, { ...common, backoff: this.options.leaseBackoff });
    this.snapshots = this.options.snapshotDir === false ? undefined : new SnapshotStore(this.options.snapshotDir);
    this.watcherOptions = {
      ...common,
      snapshots: this.snapshots,
      snapshotName: `${this.name}${this.options.root}`,
    };
  }

  /** The etcd endpoint every request of this registry goes to now; it moves when that member fails. */
  get endpoint(): string {
    return this.pin.current;
  }

  /** The lease this registry's providers are registered under (undefined before the first register). */
  get leaseId(): string | undefined {
    return this.keeper.lease;
  }

  /**
   * Publishes the instance under the lease. A fresh registry that cannot reach etcd within
   * `connectTimeoutMs` rejects with ERR_REGISTRY_UNREACHABLE; once connected, an outage only delays
   * the write (it is retried in the background and reported through `onError`).
   */
  async register(service: ServiceKey, instance: InstanceInfo): Promise<void> {
    this.assertOpen();
    const key = this.providerKey(service, instance);
    const document = instanceDocument(instance);
    await this.keeper.put(key, document, this.options.connectTimeoutMs);
  }

  /** Deletes the key. On an outage it resolves anyway: the key is deleted on reconnect or expires with the lease. */
  async deregister(service: ServiceKey, instance: InstanceInfo): Promise<void> {
    await this.keeper.remove(this.providerKey(service, instance), this.options.connectTimeoutMs);
  }

  subscribe(query: ServiceQuery, listener: EndpointsListener): Disposable {
    this.assertOpen();
    checkQuery(query);
    const id = `${query.group}/${query.name}`;
    let watcher = this.services.get(id);
    if (!watcher) {
      watcher = new ServiceWatcher(this.client, query, this.watcherOptions);
      this.services.set(id, watcher);
      watcher.start();
    }
    watcher.add(listener);
    return this.disposer(this.services, id, watcher, listener);
  }

  watchConfig(query: ServiceQuery, name: string, listener: ConfigListener): Disposable {
    this.assertOpen();
    const key = this.configKey(query, name);
    let watcher = this.configs.get(key);
    if (!watcher) {
      watcher = new ConfigWatcher(this.client, key, { group: query.group, name: query.name }, name, this.watcherOptions);
      this.configs.set(key, watcher);
      watcher.start();
    }
    watcher.add(listener);
    return this.disposer(this.configs, key, watcher, listener);
  }

  /** Publishes a rule document (not under the lease: rules outlive the process that wrote them); undefined deletes it. */
  async putConfig(query: ServiceQuery, name: string, document: string | undefined): Promise<void> {
    this.assertOpen();
    const key = this.configKey(query, name);
    const request: Promise<unknown> =
      document === undefined ? this.client.delete().key(key).exec() : this.client.put(key).value(document).exec();
    try {
      await withTimeout(request, this.options.requestTimeoutMs + 100, 'config write');
    } catch (error) {
      throw unreachable(this.options.endpoints, `writing ${key}`, error);
    }
  }

  /**
   * Revokes the lease (deleting every key this registry registered), cancels the watches and closes
   * the client. Idempotent; bounded by the request timeout even when etcd is gone.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const watchers = [...this.services.values(), ...this.configs.values()];
      this.services.clear();
      this.configs.clear();
      await Promise.all([this.keeper.close(), ...watchers.map((w) => w.close())]);
      this.client.close();
    })();
    return this.closing;
  }

  private disposer<L, W extends SharedWatcher<L>>(map: Map<string, W>, id: string, watcher: W, listener: L): Disposable {
    let disposed = false;
    return {
      dispose: () => {
        if (disposed) return;
        disposed = true;
        watcher.remove(listener);
        // The last subscriber gone: stop watching (a later subscribe starts afresh).
        if (watcher.listenerCount === 0 && map.get(id) === watcher) {
          map.delete(id);
          void watcher.close();
        }
      },
    };
  }

  private providerKey(service: ServiceKey, instance: InstanceInfo): string {
    checkQuery(service);
    if (typeof instance.host !== 'string' || instance.host === '' || instance.host.includes('/')) {
      throw new TrellisError(ErrorCodes.SERVICE_INVALID, `instance host ${JSON.stringify(instance.host)} cannot be part of an etcd key`);
    }
    if (!Number.isInteger(instance.port) || instance.port <= 0 || instance.port > 65535) {
      throw new TrellisError(ErrorCodes.SERVICE_INVALID, `instance port ${JSON.stringify(instance.port)} is not a TCP port`);
    }
    return RegistryPaths.provider(this.options.root, service, instance.host, instance.port);
  }

  private configKey(query: ServiceQuery, name: string): string {
    checkQuery(query);
    if (typeof name !== 'string' || !SEGMENT.test(name)) {
      throw new TrellisError(ErrorCodes.SERVICE_INVALID, `config name ${JSON.stringify(name)} may only contain letters, digits, "_", "." and "-"`);
    }
    return RegistryPaths.config(this.options.root, query, name);
  }

  private assertOpen(): void {
    if (this.closing) throw new TrellisError(EtcdErrorCodes.REGISTRY_CLOSED, 'the etcd registry is closed; create a new one');
  }
}

/** Group and name become key segments: a "/" in them would read another service's keys. */
function checkQuery(query: ServiceQuery): void {
  for (const [field, value] of [['group', query.group], ['name', query.name]] as const) {
    if (typeof value !== 'string' || !SEGMENT.test(value)) {
      throw new TrellisError(
        ErrorCodes.SERVICE_INVALID,
        `service ${field} ${JSON.stringify(value)} may only contain letters, digits, "_", "." and "-"`,
      );
    }
  }
}

/** Creates an etcd registry; pass it as `registry` to `new RpcServer({...})` / `new RpcClient({...})`. */
export function etcdRegistry(options: EtcdRegistryOptions = {}): EtcdRegistry {
  return new EtcdRegistry(options);
}
