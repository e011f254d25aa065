import { TrellisError } from '@trellis/core';
import { SnapshotStandIn, configSnapshotDelayMs, type ConfigListener, type ServiceQuery, type SnapshotStore } from '@trellis/core/spi';
import type { Etcd3 } from 'etcd3';
import { EtcdErrorCodes } from './errors.js';
import { RangeWatch, type RangeWatchOptions } from './range-watch.js';

export interface ConfigWatcherOptions extends RangeWatchOptions {
  readonly connectTimeoutMs: number;
  readonly snapshots: SnapshotStore | undefined;
  /** Names this registry's snapshot files (the same name as its provider-list snapshots). */
  readonly snapshotName: string;
}

/**
 * One rule document (`{root}/config/{group}/{service}/{name}`), shared by every watchConfig() on it.
 * Listeners get the raw text, or undefined once it is deleted; while etcd is unreachable the last
 * document stays in force, like the provider lists.
 *
 * Every document delivered from etcd (a deletion too) is saved as a snapshot. A watch that starts
 * with a snapshot serves it only if etcd has not answered within core's configSnapshotDelayMs (1 s, or
 * the connect timeout if shorter): when etcd is up, the live document wins and stale rules never route a call;
 * when it is down, rules are in force after a second, before the rules gate's default wait (3 s)
 * lets calls through without them. The live document then replaces it only if it differs.
 */
export class ConfigWatcher {
  private readonly listeners = new Set<ConfigListener>();
  private readonly watch: RangeWatch;
  private known = false;
  private current: string | undefined;
  /** Whether the snapshot may still stand in for etcd (core's one rule for it). */
  private readonly standIn = new SnapshotStandIn();
  private closed = false;

  constructor(
    client: Etcd3,
    private readonly key: string,
    private readonly query: ServiceQuery,
    private readonly name: string,
    private readonly options: ConfigWatcherOptions,
  ) {
    this.watch = new RangeWatch(client, { key }, (entries) => this.changed(entries.get(key)), options);
  }

  start(): void {
    const snapshot = this.options.snapshots?.loadConfig(this.options.snapshotName, this.query, this.name);
    if (snapshot) {
      this.standIn.arm(configSnapshotDelayMs(this.options.connectTimeoutMs), () => {
        if (this.closed) return;
        this.known = true;
        this.current = snapshot.document;
        for (const listener of [...this.listeners]) this.call(listener, snapshot.document);
      });
    }
    this.watch.start();
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  add(listener: ConfigListener): void {
    this.listeners.add(listener);
    if (!this.known) return;
    const document = this.current;
    queueMicrotask(() => this.listeners.has(listener) && this.current === document && this.call(listener, document));
  }

  remove(listener: ConfigListener): void {
    this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.standIn.dispose();
    this.listeners.clear();
    await this.watch.close();
  }

  private changed(document: string | undefined): void {
    if (this.closed) return;
    const first = this.standIn.liveAnswered();
    const changed = !this.known || document !== this.current;
    if (changed || first) this.options.snapshots?.saveConfig(this.options.snapshotName, this.query, this.name, document);
    if (!changed) return;
    this.known = true;
    this.current = document;
    for (const listener of [...this.listeners]) this.call(listener, document);
  }

  private call(listener: ConfigListener, document: string | undefined): void {
    try {
      listener(document);
    } catch (error) {
      this.options.report(new TrellisError(EtcdErrorCodes.LISTENER_FAILED, `a config listener for ${this.key} threw`, { cause: error }));
    }
  }
}
