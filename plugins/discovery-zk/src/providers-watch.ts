import { Exception, type Event } from 'node-zookeeper-client';
import {
  debounce, endpointFromInstance, parseInstance, type Debounced, type Disposable, type Endpoint,
  type EndpointsListener, type ServiceQuery, type SnapshotStore,
} from '@trellis/core/spi';
import { TrellisError } from '@trellis/core';
import { ZooKeeperErrorCodes } from './errors.js';
import { ListenerSet } from './listener-set.js';
import { zkCode, type ZkHandle } from './zk-handle.js';
import type { ZkSession } from './session.js';
import { WatchLoop } from './watch-loop.js';

export interface ProvidersWatchDeps {
  readonly session: ZkSession;
  readonly debounceMs: number;
  /** Where delivered lists are persisted, under `name`; undefined when snapshots are disabled. */
  readonly snapshot: { readonly store: SnapshotStore; readonly name: string } | undefined;
  readonly onError: (error: TrellisError) => void;
  /** The last listener left: the owner drops this watch. */
  readonly onIdle: () => void;
}

interface CachedChild {
  /** The client the data watch was armed on; an entry from an older session is read again. */
  readonly handle: ZkHandle;
  readonly endpoint: Endpoint | undefined;
}

/**
 * One watch on `{root}/services/{group}/{service}/providers`, shared by every subscriber of that
 * service: a child watch for joins and leaves, a data watch per provider for re-registrations with new
 * data. Each provider document is read once and cached until its data watch fires.
 *
 * The list only changes when the children really change. A disconnect or an outage delivers nothing,
 * so consumers keep calling the providers they know; an expiry re-reads on the new session and
 * delivers only if the list differs.
 */
export class ProvidersWatch extends WatchLoop {
  private readonly listeners: ListenerSet<readonly Endpoint[]>;
  private readonly cache = new Map<string, CachedChild>();
  private readonly debounced: Debounced<readonly Endpoint[]>;
  /** The last list read from ZooKeeper (JSON), delivered or pending. */
  private observed: string | undefined;
  private delivered: { readonly list: readonly Endpoint[]; readonly key: string } | undefined;

  constructor(
    readonly path: string,
    private readonly query: ServiceQuery,
    private readonly deps: ProvidersWatchDeps,
  ) {
    super(deps.session, deps.onError);
    this.listeners = new ListenerSet(`a provider listener for ${path}`, deps.onError, deps.onIdle);
    this.debounced = debounce((list) => this.deliver(list, true), deps.debounceMs);
  }

  subscribe(listener: EndpointsListener): Disposable {
    const delivered = this.delivered;
    return this.listeners.add(listener, delivered && { value: delivered.list }, () => this.closed);
  }

  /**
   * ZooKeeper could not be reached in time: serve the last list persisted by an earlier run. An empty
   * one is not served (as in discovery-etcd): it would only turn "not known yet" into "no providers".
   */
  useSnapshot(): void {
    if (this.delivered || this.closed || !this.deps.snapshot) return;
    const list = this.deps.snapshot.store.load(this.deps.snapshot.name, this.query);
    if (list && list.length > 0) this.deliver(list, false);
  }

  override close(): void {
    super.close();
    this.debounced.cancel();
    this.listeners.clear();
    this.cache.clear();
  }

  protected async read(handle: ZkHandle): Promise<void> {
    let children: string[];
    try {
      children = await handle.getChildren(this.path, this.onChildren);
    } catch (error) {
      if (zkCode(error) !== Exception.NO_NODE) throw error;
      // No provider ever registered here: watch for the parent to appear instead.
      if (await handle.exists(this.path, this.onChildren)) return this.refresh();
      children = [];
    }
    await Promise.all(children.filter((c) => this.cache.get(c)?.handle !== handle).map((c) => this.readChild(handle, c)));
    const present = new Set(children);
    for (const name of this.cache.keys()) if (!present.has(name)) this.cache.delete(name);
    const list = children
      .map((name) => this.cache.get(name)?.endpoint)
      .filter((e): e is Endpoint => e !== undefined)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    this.publish(list);
  }

  private async readChild(handle: ZkHandle, name: string): Promise<void> {
    const path = `${this.path}/${name}`;
    try {
      const { data } = await handle.getData(path, this.onData);
      const info = data ? parseInstance(data.toString('utf8')) : undefined;
      // Skipped, not fatal: one bad document in a shared registry must not hide every other provider.
      if (!info) this.onError(new TrellisError(ZooKeeperErrorCodes.MALFORMED_DOCUMENT, `skipping malformed provider document at ${path}`));
      this.cache.set(name, { handle, endpoint: info && endpointFromInstance(info) });
    } catch (error) {
      // Gone since the listing; the child watch fires for that.
      if (zkCode(error) !== Exception.NO_NODE) throw error;
      this.cache.delete(name);
    }
  }

  private readonly onChildren = (): void => this.refresh();

  private readonly onData = (event: Event): void => {
    this.cache.delete(event.getPath().slice(this.path.length + 1));
    this.refresh();
  };

  private publish(list: readonly Endpoint[]): void {
    const key = JSON.stringify(list);
    if (key === this.observed) return;
    this.observed = key;
    // The first list goes out at once (a client is waiting to start); later ones are merged.
    if (!this.delivered) this.deliver(list, true);
    else this.debounced(list);
  }

  private deliver(list: readonly Endpoint[], fromZooKeeper: boolean): void {
    if (this.closed) return;
    const key = JSON.stringify(list);
    if (this.delivered?.key === key) return;
    this.delivered = { list, key };
    if (fromZooKeeper && this.deps.snapshot) this.deps.snapshot.store.save(this.deps.snapshot.name, this.query, list);
    this.listeners.emit(list);
  }
}
