import { TrellisError } from '@trellis/core';
import {
  debounce, endpointFromInstance, parseInstance, RegistryPaths,
  SnapshotStandIn, type Debounced, type Endpoint, type EndpointsListener, type ServiceQuery, type SnapshotStore,
} from '@trellis/core/spi';
import type { Etcd3 } from 'etcd3';
import { EtcdErrorCodes } from './errors.js';
import { RangeWatch, type RangeUpdate, type RangeWatchOptions } from './range-watch.js';

export interface ServiceWatcherOptions extends RangeWatchOptions {
  readonly root: string;
  readonly debounceMs: number;
  readonly connectTimeoutMs: number;
  readonly snapshots: SnapshotStore | undefined;
  /** Names this registry's snapshot files (so two roots or clusters never share one). */
  readonly snapshotName: string;
}

/**
 * The provider list of one service, shared by every subscription to it (one etcd watch per service
 * per registry, however many clients subscribe).
 *
 * The first list from etcd is delivered at once; later changes are merged with `debounce`, so a
 * deploy of 50 providers is one notification. Each list from etcd is saved as a snapshot; when etcd
 * has not answered within `connectTimeoutMs` of the start, the snapshot stands in until it does. A
 * list is only ever replaced by a newer one from etcd — an outage never empties it.
 */
export class ServiceWatcher {
  private readonly listeners = new Set<EndpointsListener>();
  /** Parsed documents by key, so a change re-parses one document, not the whole list. */
  private readonly parsed = new Map<string, { readonly value: string; readonly endpoint: Endpoint | undefined }>();
  private readonly watch: RangeWatch;
  private readonly debounced: Debounced<void>;
  private current: readonly Endpoint[] | undefined;
  private currentJson = '';
  /** Whether the snapshot may still stand in for etcd (core's one rule for it). */
  private readonly standIn = new SnapshotStandIn();
  private closed = false;

  constructor(client: Etcd3, private readonly query: ServiceQuery, private readonly options: ServiceWatcherOptions) {
    this.debounced = debounce(() => this.publish(this.build(), true), options.debounceMs);
    const prefix = `${RegistryPaths.providers(options.root, query)}/`;
    this.watch = new RangeWatch(client, { prefix }, (_entries, cause) => this.changed(cause), options);
  }

  start(): void {
    this.watch.start();
    if (this.options.snapshots) this.standIn.arm(this.options.connectTimeoutMs, () => this.useSnapshot());
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  add(listener: EndpointsListener): void {
    this.listeners.add(listener);
    const list = this.current;
    // A late subscriber gets the list in force, asynchronously like the first one.
    if (list) queueMicrotask(() => this.listeners.has(listener) && this.current === list && this.call(listener, list));
  }

  remove(listener: EndpointsListener): void {
    this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.debounced.cancel();
    this.standIn.dispose();
    this.listeners.clear();
    await this.watch.close();
  }

  private changed(cause: RangeUpdate): void {
    if (cause === 'list' && !this.standIn.live) {
      // The first real list is wanted as soon as it is known, not a debounce window later.
      this.debounced.cancel();
      this.publish(this.build(), true);
    } else {
      this.debounced();
    }
  }

  private useSnapshot(): void {
    if (this.closed) return;
    const list = this.options.snapshots?.load(this.options.snapshotName, this.query);
    // An empty snapshot says nothing useful; waiting for etcd is better than an empty list.
    if (list && list.length > 0) this.publish(list, false);
  }

  private build(): readonly Endpoint[] {
    const entries = this.watch.entries;
    for (const key of this.parsed.keys()) if (!entries.has(key)) this.parsed.delete(key);
    const list: Endpoint[] = [];
    for (const [key, value] of entries) {
      let doc = this.parsed.get(key);
      if (doc?.value !== value) {
        const info = parseInstance(value);
        doc = { value, endpoint: info && endpointFromInstance(info) };
        this.parsed.set(key, doc);
        if (!info) {
          this.options.report(
            new TrellisError(EtcdErrorCodes.MALFORMED_DOCUMENT, `skipping ${key}: not a provider document (${JSON.stringify(value.slice(0, 80))})`),
          );
        }
      }
      if (doc.endpoint) list.push(doc.endpoint);
    }
    return list.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  private publish(list: readonly Endpoint[], live: boolean): void {
    if (this.closed) return;
    const json = JSON.stringify(list);
    const changed = this.current === undefined || json !== this.currentJson;
    if (live) {
      const first = this.standIn.liveAnswered();
      if (changed || first) this.options.snapshots?.save(this.options.snapshotName, this.query, list);
    }
    if (!changed) return;
    this.current = list;
    this.currentJson = json;
    for (const listener of [...this.listeners]) this.call(listener, list);
  }

  private call(listener: EndpointsListener, list: readonly Endpoint[]): void {
    try {
      listener(list);
    } catch (error) {
      this.options.report(
        new TrellisError(EtcdErrorCodes.LISTENER_FAILED, `a provider-list listener for ${this.query.group}/${this.query.name} threw`, { cause: error }),
      );
    }
  }
}
