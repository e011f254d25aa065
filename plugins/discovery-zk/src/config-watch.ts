import { Exception } from 'node-zookeeper-client';
import { SnapshotStandIn, configSnapshotDelayMs, type ConfigListener, type Disposable, type ServiceQuery, type SnapshotStore } from '@trellis/core/spi';
import type { TrellisError } from '@trellis/core';
import { zkCode, type ZkHandle } from './zk-handle.js';
import type { ZkSession } from './session.js';
import { ListenerSet } from './listener-set.js';
import { WatchLoop } from './watch-loop.js';

/**
 * One data watch on a config document (`{root}/config/{group}/{service}/{name}`), shared by every
 * listener of it and re-armed on each notification. While the node is missing an existence watch
 * stands in, so creating the document is noticed too. Listeners get the text, or undefined when the
 * node does not exist; an outage delivers nothing (the last document stays in force).
 *
 * Every document read from ZooKeeper (an absent node too) is saved as a snapshot. A watch created
 * with a snapshot serves it only if ZooKeeper has not answered within core's configSnapshotDelayMs
 * (1 s, or the connect timeout if shorter): when ZooKeeper is up, the live document wins and stale rules never
 * route a call; when it is down, rules are in force after a second, before the rules gate's default
 * wait (3 s) lets calls through without them. The live document then replaces it only if it differs.
 */
export class ConfigWatch extends WatchLoop {
  private readonly listeners: ListenerSet<string | undefined>;
  private known: { readonly document: string | undefined } | undefined;
  /** Whether the snapshot may still stand in for ZooKeeper (core's one rule for it). */
  private readonly standIn = new SnapshotStandIn();

  constructor(
    readonly path: string,
    session: ZkSession,
    onError: (error: TrellisError) => void,
    onIdle: () => void,
    /** Where delivered documents are persisted; undefined when snapshots are disabled. */
    private readonly snapshot?: {
      readonly store: SnapshotStore;
      readonly name: string;
      readonly query: ServiceQuery;
      readonly document: string;
      readonly connectTimeoutMs: number;
    },
  ) {
    super(session, onError);
    this.listeners = new ListenerSet(`a config listener for ${path}`, onError, onIdle);
    const saved = snapshot?.store.loadConfig(snapshot.name, snapshot.query, snapshot.document);
    if (saved) {
      this.standIn.arm(configSnapshotDelayMs(snapshot!.connectTimeoutMs), () => {
        if (this.closed) return;
        this.known = saved;
        this.listeners.emit(saved.document);
      });
    }
  }

  subscribe(listener: ConfigListener): Disposable {
    const known = this.known;
    return this.listeners.add(listener, known && { value: known.document }, () => this.closed);
  }

  override close(): void {
    this.standIn.dispose();
    super.close();
    this.listeners.clear();
  }

  protected async read(handle: ZkHandle): Promise<void> {
    try {
      const { data } = await handle.getData(this.path, this.onChange);
      this.publish(data ? data.toString('utf8') : '');
    } catch (error) {
      if (zkCode(error) !== Exception.NO_NODE) throw error;
      if (await handle.exists(this.path, this.onChange)) return this.refresh();
      this.publish(undefined);
    }
  }

  private readonly onChange = (): void => this.refresh();

  private publish(document: string | undefined): void {
    if (this.closed) return;
    const first = this.standIn.liveAnswered();
    const changed = !this.known || this.known.document !== document;
    const snapshot = this.snapshot;
    if (snapshot && (changed || first)) snapshot.store.saveConfig(snapshot.name, snapshot.query, snapshot.document, document);
    if (!changed) return;
    this.known = { document };
    this.listeners.emit(document);
  }
}
