import { TrellisError } from '@trellis/core';
import type { ConfigListener } from '@trellis/core/spi';
import type { Etcd3 } from 'etcd3';
import { EtcdErrorCodes } from './errors.js';
import { RangeWatch, type RangeWatchOptions } from './range-watch.js';

/**
 * One rule document (`{root}/config/{group}/{service}/{name}`), shared by every watchConfig() on it.
 * Listeners get the raw text, or undefined once it is deleted; while etcd is unreachable the last
 * document stays in force, like the provider lists.
 */
export class ConfigWatcher {
  private readonly listeners = new Set<ConfigListener>();
  private readonly watch: RangeWatch;
  private known = false;
  private current: string | undefined;
  private closed = false;

  constructor(client: Etcd3, private readonly key: string, private readonly options: RangeWatchOptions) {
    this.watch = new RangeWatch(client, { key }, (entries) => this.changed(entries.get(key)), options);
  }

  start(): void {
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
    this.listeners.clear();
    await this.watch.close();
  }

  private changed(document: string | undefined): void {
    if (this.closed || (this.known && document === this.current)) return;
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
