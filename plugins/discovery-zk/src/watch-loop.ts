import type { TrellisError } from '@trellis/core';
import { ExponentialBackoff } from '@trellis/core/spi';
import { reportable, ZooKeeperErrorCodes } from './errors.js';
import { isTransient, type ZkHandle } from './zk-handle.js';
import type { ZkSession } from './session.js';

/**
 * The read-and-re-arm cycle every ZooKeeper watch needs. Watches are one-shot: each notification
 * calls `refresh()`, whose read arms the next watch. Reads run one at a time; notifications that
 * arrive during a read cause exactly one more read, so a burst of 50 changes costs a handful of
 * reads, not 50.
 *
 * After a plain reconnect the session still holds every watch armed on it: the library sends them
 * back to the server (SetWatches, with the last zxid it saw), and the server fires at once those whose
 * node changed in between. So `attach()` reads again only on a new session (whose watches are gone),
 * or when a read was cut short by the disconnect (that watch may not be armed): a fleet reconnecting
 * after an outage re-reads nothing it still knows.
 */
export abstract class WatchLoop {
  protected closed = false;
  /** A read is due: the first one, one after a notification, or one a disconnect cut short. */
  private dirty = true;
  private running = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly retryBackoff = new ExponentialBackoff({ initialMs: 500, maxMs: 30_000, jitter: 0.2 });

  constructor(
    protected readonly session: ZkSession,
    protected readonly onError: (error: TrellisError) => void,
  ) {}

  /** Reads the current state on `handle`, arming watches that call `refresh()`. */
  protected abstract read(handle: ZkHandle): Promise<void>;

  /**
   * A connection is up. A new session lost every watch: read again. A resumed one kept them (the server
   * fires those that changed): read only if the last read did not complete.
   */
  attach(fresh = true): void {
    if (fresh || this.dirty) this.refresh();
  }

  /** Stable, so the library's per-path watcher de-duplication sees one watcher, not one per read. */
  readonly refresh = (): void => {
    if (this.closed) return;
    this.dirty = true;
    if (this.running) return;
    this.running = true;
    void this.drain().finally(() => (this.running = false));
  };

  private retryLater(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(this.refresh, this.retryBackoff.next());
    this.retryTimer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private async drain(): Promise<void> {
    for (;;) {
      const handle = this.session.current();
      if (this.closed || !this.dirty || !handle) return;
      this.dirty = false;
      try {
        await this.read(handle);
        this.retryBackoff.reset();
      } catch (error) {
        if (isTransient(error)) {
          // Cut short by the connection: its watch may not be armed, so the reconnection reads again
          // (or, if the connection is somehow still up, a retry after a pause).
          this.dirty = true;
          if (this.session.current() === handle) this.retryLater();
          return;
        }
        this.onError(reportable(ZooKeeperErrorCodes.REQUEST_FAILED, `ZooKeeper read for a watch failed`, error));
        // Not a connection problem (an ACL, say): try again later rather than never.
        this.retryLater();
        return;
      }
    }
  }
}
