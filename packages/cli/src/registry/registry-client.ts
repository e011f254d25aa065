import type { TrellisError } from '@trellis/core';
import type { ConfigSource, Registry, ServiceQuery } from '@trellis/core/spi';
import { CliError, notFound } from '../cli-error.js';
import { ExitCode } from '../exit-codes.js';
import { closeNames, didYouMean } from '../suggest.js';
import type { RegistryAddress } from './address.js';
import { registryUnreachable, type CatalogService, type ServiceCatalog } from './catalog.js';
import { reason } from './reason.js';

/**
 * A command's view of one registry, opened lazily: the catalog for listing, and the project's own
 * registry (`@trellis/discovery-etcd` / `-zk`, snapshots off: a CLI must never answer from a stale
 * local copy) for rule documents and for calls. Problems the registry reports asynchronously are
 * kept, so a timeout can say what actually failed.
 */
export class RegistryClient {
  private catalogInstance: Promise<ServiceCatalog> | undefined;
  private registryInstance: Promise<Registry & ConfigSource> | undefined;
  private listing: Promise<CatalogService[]> | undefined;
  private lastError: TrellisError | undefined;

  constructor(readonly address: RegistryAddress, readonly timeoutMs: number) {}

  /** Every service under the root (read once per command). */
  services(): Promise<CatalogService[]> {
    this.listing ??= this.catalog().then((catalog) => catalog.services());
    return this.listing;
  }

  /** The service, or NOT_FOUND naming the close names (and the group it is in, if it is elsewhere). */
  async service(query: ServiceQuery): Promise<CatalogService> {
    const services = await this.services();
    const found = services.find((s) => s.group === query.group && s.name === query.name);
    if (found !== undefined) return found;
    throw unknownService(query, services, this.address.display);
  }

  /**
   * The registry as consumers and providers use it; `trellis call` hands it to an RpcClient. The
   * backend's package is loaded on first use only (etcd3 and grpc-js take a while to load).
   */
  registry(): Promise<Registry & ConfigSource> {
    this.registryInstance ??= this.openRegistry();
    return this.registryInstance;
  }

  private async openRegistry(): Promise<Registry & ConfigSource> {
    const onError = (error: TrellisError): void => {
      this.lastError = error;
    };
    const common = { root: this.address.root, snapshotDir: false as const, connectTimeoutMs: this.timeoutMs, onError };
    if (this.address.kind === 'etcd') {
      const { etcdRegistry } = await import('@trellis/discovery-etcd');
      return etcdRegistry({ ...common, endpoints: [...this.address.endpoints], requestTimeoutMs: this.timeoutMs });
    }
    const { zookeeperRegistry } = await import('@trellis/discovery-zk');
    return zookeeperRegistry({ ...common, connectString: this.address.connectString });
  }

  /** The last problem the registry reported (an outage, a malformed document), if any. */
  get reportedError(): TrellisError | undefined {
    return this.lastError;
  }

  /** A rule document through the registry's ConfigSource: its text, or undefined when there is none. */
  async readDocument(query: ServiceQuery, name: string): Promise<string | undefined> {
    const registry = await this.registry();
    return new Promise((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        settled = true;
        subscription.dispose();
        const why = this.lastError ? reason(this.lastError) : `no answer within ${this.timeoutMs} ms`;
        reject(registryUnreachable(this.address, `reading the "${name}" document of ${query.group}/${query.name}`, why, this.lastError));
      }, this.timeoutMs);
      const subscription = registry.watchConfig(query, name, (text) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        queueMicrotask(() => subscription.dispose());
        // A ZooKeeper node created before its data is set reads as empty: rule watchers treat it as absent.
        resolve(text === undefined || text.trim() === '' ? undefined : text);
      });
    });
  }

  /** Writes (or, with undefined, deletes) a rule document through the ConfigSource. */
  async writeDocument(query: ServiceQuery, name: string, text: string | undefined): Promise<void> {
    const registry = await this.registry();
    if (registry.putConfig === undefined) {
      throw new CliError(ExitCode.USAGE, `the ${registry.name} registry cannot write documents`);
    }
    try {
      await registry.putConfig(query, name, text);
    } catch (error) {
      const code = (error as TrellisError).code;
      if (code === 'ERR_REGISTRY_UNREACHABLE') throw registryUnreachable(this.address, `writing the "${name}" document`, reason(error), error);
      throw new CliError(ExitCode.REGISTRY_UNREACHABLE, `the registry refused to write the "${name}" document: ${reason(error)}`, { cause: error });
    }
  }

  async close(): Promise<void> {
    const [catalog, registry] = await Promise.all([this.catalogInstance, this.registryInstance].map((p) => p?.catch(() => undefined)));
    await Promise.all([(catalog as ServiceCatalog | undefined)?.close(), (registry as Registry | undefined)?.close()]);
  }

  private catalog(): Promise<ServiceCatalog> {
    this.catalogInstance ??= (async () => {
      if (this.address.kind === 'etcd') return new (await import('./etcd-catalog.js')).EtcdCatalog(this.address, this.timeoutMs);
      return new (await import('./zk-catalog.js')).ZooKeeperCatalog(this.address, this.timeoutMs);
    })();
    return this.catalogInstance;
  }
}

export function unknownService(query: ServiceQuery, services: readonly CatalogService[], where: string): CliError {
  const names = services.map((s) => s.name);
  const elsewhere = services.filter((s) => s.name === query.name).map((s) => s.group);
  const close = closeNames(query.name, names);
  const hint = elsewhere.length > 0
    ? `it is registered in group ${elsewhere.map((g) => `"${g}"`).join(', ')}: pass --group ${elsewhere[0]}`
    : close.length > 0
      ? didYouMean(close)
      : services.length > 0 ? '`trellis ls` lists the services there are' : 'the registry holds no service under this root (see --root)';
  return notFound(`service "${query.name}" is not in the registry at ${where} (group "${query.group}")`, hint, {
    service: query.name,
    group: query.group,
    suggestions: close,
    ...(elsewhere.length > 0 ? { groups: elsewhere } : {}),
  });
}
