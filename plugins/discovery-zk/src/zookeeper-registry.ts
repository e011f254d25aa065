import { Exception } from 'node-zookeeper-client';
import { TrellisError, type ServiceKey } from '@trellis/core';
import {
  instanceDocument, RegistryPaths, SnapshotStore, type ConfigListener, type ConfigSource, type Disposable, type EndpointsListener,
  type InstanceInfo, type Registry, type ServiceQuery,
} from '@trellis/core/spi';
import { ConfigWatch } from './config-watch.js';
import { closedError, ZooKeeperErrorCodes } from './errors.js';
import { isValidSegment, resolveOptions, type ResolvedOptions, type ZooKeeperRegistryOptions } from './options.js';
import { ProvidersWatch } from './providers-watch.js';
import { Registrations } from './registrations.js';
import { ZkSession } from './session.js';
import { zkCode, type ZkHandle } from './zk-handle.js';

const INERT: Disposable = { dispose: () => undefined };

/**
 * Service discovery and config documents on ZooKeeper 3.x.
 *
 * Providers are ephemeral nodes `{root}/services/{group}/{service}/providers/{host:port}` holding the
 * InstanceInfo JSON; consumers watch the `providers` node. The session is re-created after an expiry,
 * and everything registered or watched is re-applied on the new one. Pass it to a client or server as
 * `{ registry }`.
 */
export class ZooKeeperRegistry implements Registry, ConfigSource {
  readonly name = 'zookeeper';
  private readonly options: ResolvedOptions;
  private readonly session: ZkSession;
  private readonly registrations: Registrations;
  private readonly snapshots: SnapshotStore | undefined;
  private readonly providerWatches = new Map<string, ProvidersWatch>();
  private readonly configWatches = new Map<string, ConfigWatch>();
  private closing: Promise<void> | undefined;

  constructor(options: ZooKeeperRegistryOptions) {
    this.options = resolveOptions(options);
    this.session = new ZkSession(this.options, { connected: (handle, fresh) => this.onConnected(handle, fresh) });
    this.registrations = new Registrations(this.session, this.options.connectTimeoutMs, this.options.onError);
    this.snapshots = this.options.snapshotDir === false ? undefined : new SnapshotStore(this.options.snapshotDir);
  }

  /** The current session id (16 hex digits), or undefined while not connected. */
  get sessionId(): string | undefined {
    return this.session.sessionId;
  }

  get connected(): boolean {
    return this.session.current() !== undefined;
  }

  /** Waits for a session: a start-up check that fails with ERR_REGISTRY_UNREACHABLE after connectTimeoutMs. */
  async connect(): Promise<void> {
    this.assertOpen();
    await this.session.whenConnected();
  }

  async register(service: ServiceKey, instance: InstanceInfo): Promise<void> {
    this.assertOpen();
    checkQuery(service);
    checkInstance(instance);
    const path = RegistryPaths.provider(this.options.root, service, instance.host, instance.port);
    await this.registrations.add(path, Buffer.from(instanceDocument(instance), 'utf8'));
  }

  async deregister(service: ServiceKey, instance: InstanceInfo): Promise<void> {
    this.assertOpen();
    checkQuery(service);
    checkInstance(instance);
    await this.registrations.remove(RegistryPaths.provider(this.options.root, service, instance.host, instance.port));
  }

  subscribe(query: ServiceQuery, listener: EndpointsListener): Disposable {
    checkQuery(query);
    if (this.closing) return INERT;
    const path = RegistryPaths.providers(this.options.root, query);
    let watch = this.providerWatches.get(path);
    if (!watch) {
      const created: ProvidersWatch = new ProvidersWatch(path, query, {
        session: this.session,
        debounceMs: this.options.debounceMs,
        snapshot: this.snapshots && { store: this.snapshots, name: this.snapshotName() },
        onError: this.options.onError,
        onIdle: () => this.dropWatch(this.providerWatches, path, created),
      });
      this.providerWatches.set(path, created);
      this.startWatch(created, () => created.useSnapshot());
      watch = created;
    }
    return watch.subscribe(listener);
  }

  watchConfig(query: ServiceQuery, name: string, listener: ConfigListener): Disposable {
    checkQuery(query);
    checkConfigName(name);
    if (this.closing) return INERT;
    const path = RegistryPaths.config(this.options.root, query, name);
    let watch = this.configWatches.get(path);
    if (!watch) {
      const created: ConfigWatch = new ConfigWatch(
        path,
        this.session,
        this.options.onError,
        () => this.dropWatch(this.configWatches, path, created),
        this.snapshots && {
          store: this.snapshots,
          name: this.snapshotName(),
          query: { group: query.group, name: query.name },
          document: name,
          connectTimeoutMs: this.options.connectTimeoutMs,
        },
      );
      this.configWatches.set(path, created);
      this.startWatch(created, () => undefined);
      watch = created;
    }
    return watch.subscribe(listener);
  }

  /** Writes a config document, creating its parents; `undefined` deletes it. */
  async putConfig(query: ServiceQuery, name: string, document: string | undefined): Promise<void> {
    this.assertOpen();
    checkQuery(query);
    checkConfigName(name);
    const path = RegistryPaths.config(this.options.root, query, name);
    const handle = await this.session.whenConnected();
    try {
      if (document === undefined) await removeDocument(handle, path);
      else await writeDocument(handle, path, Buffer.from(document, 'utf8'));
    } catch (error) {
      throw this.session.writeFailed('write', path, error);
    }
  }

  /** Deletes our provider nodes, drops every watch and closes the session. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const watch of [...this.providerWatches.values(), ...this.configWatches.values()]) watch.close();
      this.providerWatches.clear();
      this.configWatches.clear();
      await this.registrations.removeAll();
      await this.session.close();
    })();
    return this.closing;
  }

  private onConnected(handle: ZkHandle, fresh: boolean): void {
    void this.registrations.resync(handle, fresh).then((registrations) => {
      if (this.session.current() === handle) {
        this.options.onEvent({ type: 'resynced', sessionId: handle.sessionId, registrations });
      }
    });
    for (const watch of this.providerWatches.values()) watch.attach(fresh);
    for (const watch of this.configWatches.values()) watch.attach(fresh);
  }

  /** Reads at once when connected; otherwise the next `connected` does, and `onUnreachable` runs after the connect timeout. */
  private startWatch(watch: ProvidersWatch | ConfigWatch, onUnreachable: () => void): void {
    if (this.session.current()) {
      watch.attach();
      return;
    }
    this.session.whenConnected().then(
      () => undefined,
      () => onUnreachable(),
    );
  }

  private dropWatch<W extends ProvidersWatch | ConfigWatch>(map: Map<string, W>, path: string, watch: W): void {
    // ZooKeeper 3.8 can remove watches, but this client cannot: the watch fires at most once more into
    // a closed loop, which ignores it.
    if (map.get(path) === watch) map.delete(path);
    watch.close();
  }

  private snapshotName(): string {
    // One file per ensemble and root: two clusters must not overwrite each other's lists or documents.
    return `zookeeper@${this.options.connectString}${this.options.root}`;
  }

  private assertOpen(): void {
    if (this.closing) throw closedError();
  }
}

/** The factory form, for `new RpcServer({ registry: zookeeperRegistry({ connectString }) })`. */
export function zookeeperRegistry(options: ZooKeeperRegistryOptions): ZooKeeperRegistry {
  return new ZooKeeperRegistry(options);
}

async function removeDocument(handle: ZkHandle, path: string): Promise<void> {
  try {
    await handle.remove(path);
  } catch (error) {
    if (zkCode(error) !== Exception.NO_NODE) throw error;
  }
}

async function writeDocument(handle: ZkHandle, path: string, data: Buffer): Promise<void> {
  try {
    await handle.setData(path, data);
    return;
  } catch (error) {
    if (zkCode(error) !== Exception.NO_NODE) throw error;
  }
  await handle.mkdirp(path.slice(0, path.lastIndexOf('/')));
  try {
    await handle.create(path, data);
  } catch (error) {
    // Someone created it in between: last writer wins, as with setData.
    if (zkCode(error) !== Exception.NODE_EXISTS) throw error;
    await handle.setData(path, data);
  }
}

function checkQuery(query: ServiceQuery): void {
  for (const field of ['group', 'name'] as const) {
    const value = (query as Partial<ServiceQuery> | undefined)?.[field];
    if (!isValidSegment(value)) {
      throw new TrellisError(
        ZooKeeperErrorCodes.SERVICE_INVALID,
        `service ${field} ${JSON.stringify(value)} may only contain letters, digits, "_", "." and "-"`,
      );
    }
  }
}

function checkConfigName(name: string): void {
  if (!isValidSegment(name)) {
    throw new TrellisError(ZooKeeperErrorCodes.SERVICE_INVALID, `config name ${JSON.stringify(name)} may only contain letters, digits, "_", "." and "-"`);
  }
}

function checkInstance(instance: InstanceInfo): void {
  // Host names, IPv4, and IPv6 (RegistryPaths brackets those); nothing that could split the path.
  if (typeof instance?.host !== 'string' || !/^[A-Za-z0-9_.:-]+$/.test(instance.host)) {
    throw new TrellisError(ZooKeeperErrorCodes.SERVICE_INVALID, `instance host ${JSON.stringify(instance?.host)} cannot be part of a ZooKeeper path`);
  }
  if (!Number.isInteger(instance.port) || instance.port < 1 || instance.port > 65535) {
    throw new TrellisError(ZooKeeperErrorCodes.SERVICE_INVALID, `instance port ${JSON.stringify(instance.port)} is not a TCP port`);
  }
}

/** Exactly the documented fields: whatever else the caller's object carries stays out of the registry. */
