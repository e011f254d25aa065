import type { TrellisError } from '@trellis/core';
import { ExponentialBackoff } from '@trellis/core/spi';
import { reportable, ZooKeeperErrorCodes } from './errors.js';
import { isTransient, type ZkHandle } from './zk-handle.js';
import type { ZkSession } from './session.js';

/**
 * The read-and-re-arm cycle every ZooKeeper watch needs. Watches are one-shot: each notification
 * calls `refresh()`, whose read arms the next watch. Reads run one at a time; notifications that
 * arrive during a read cause exactly one more read, so a burst of 50 changes costs a handful of
 * reads, not 50. A read that fails because the connection went away is simply dropped: the
 * session's next `connected` calls `attach()`, which reads (and re-arms) again.
 */
export abstract class WatchLoop {
  protected closed = false;
  private dirty = false;
  private running = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly retryBackoff = new ExponentialBackoff({ initialMs: 500, maxMs: 30_000, jitter: 0.2 });

  constructor(
    protected readonly session: ZkSession,
    protected readonly onError: (error: TrellisError) => void,
  ) {}

  /** Reads the current state on `handle`, arming watches that call `refresh()`. */
  protected abstract read(handle: ZkHandle): Promise<void>;

  /** A connection is up: a new session lost every watch, and a resumed one may have missed events. */
  attach(): void {
    this.refresh();
  }

  /** Stable, so the library's per-path watcher de-duplication sees one watcher, not one per read. */
  readonly refresh = (): void => {
    if (this.closed) return;
    this.dirty = true;
    if (this.running) return;
    this.running = true;
    void this.drain().finally(() => (this.running = false));
  };

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
        if (isTransient(error)) continue;
        this.onError(reportable(ZooKeeperErrorCodes.REQUEST_FAILED, `ZooKeeper read for a watch failed`, error));
        // Not a connection problem (an ACL, say): try again later rather than never.
        if (this.retryTimer) clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(this.refresh, this.retryBackoff.next());
        this.retryTimer.unref();
        return;
      }
    }
  }
}
