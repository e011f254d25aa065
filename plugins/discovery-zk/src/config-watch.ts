import { Exception } from 'node-zookeeper-client';
import type { ConfigListener, Disposable } from '@trellis/core/spi';
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
 */
export class ConfigWatch extends WatchLoop {
  private readonly listeners: ListenerSet<string | undefined>;
  private known: { readonly document: string | undefined } | undefined;

  constructor(
    readonly path: string,
    session: ZkSession,
    onError: (error: TrellisError) => void,
    onIdle: () => void,
  ) {
    super(session, onError);
    this.listeners = new ListenerSet(`a config listener for ${path}`, onError, onIdle);
  }

  subscribe(listener: ConfigListener): Disposable {
    const known = this.known;
    return this.listeners.add(listener, known && { value: known.document }, () => this.closed);
  }

  override close(): void {
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
    if (this.known && this.known.document === document) return;
    this.known = { document };
    this.listeners.emit(document);
  }
}
