import { TrellisError } from '@trellis/core';
import { ExponentialBackoff, type BackoffOptions } from '@trellis/core/spi';
import { Range, type Etcd3, type IWatchResponse, type Watcher } from 'etcd3';
import { EtcdErrorCodes, unreachable } from './errors.js';
import { withTimeout } from './timeout.js';

export interface RangeWatchOptions {
  readonly endpoints: readonly string[];
  readonly requestTimeoutMs: number;
  readonly backoff: BackoffOptions;
  readonly report: (error: TrellisError) => void;
}

/** What changed the mirror: a full (re-)read, or events from the watch. */
export type RangeUpdate = 'list' | 'watch';

/**
 * Mirrors one etcd key range (all keys under a prefix, or one key) in memory: a range read, then a
 * watch starting at the revision right after that read, so no change falls in between and nothing is
 * polled. When the watch breaks — disconnected, cancelled, compacted — it starts over with a fresh read
 * after a jittered backoff (etcd3's own resume could replay from a compacted or reset revision). While
 * etcd is unreachable the mirror keeps its last content: an outage never looks like an empty range.
 */
export class RangeWatch {
  /** key → value, as of the last read plus the events since. */
  readonly entries = new Map<string, string>();
  private readonly range: Range;
  private readonly backoff: ExponentialBackoff;
  /** Bumped on every restart: callbacks of an older read or watcher see a stale generation and stop. */
  private generation = 0;
  private watcher: Watcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private outage = false;
  private closed = false;

  constructor(
    private readonly client: Etcd3,
    target: { readonly prefix: string } | { readonly key: string },
    private readonly onUpdate: (entries: ReadonlyMap<string, string>, cause: RangeUpdate) => void,
    private readonly options: RangeWatchOptions,
  ) {
    this.range = 'prefix' in target ? Range.prefix(target.prefix) : new Range(target.key);
    this.backoff = new ExponentialBackoff(options.backoff);
  }

  start(): void {
    void this.list(this.generation);
  }

  /** Cancels the watch (bounded: a hung etcd must not hold close() up). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.generation++;
    clearTimeout(this.timer);
    const watcher = this.watcher;
    this.watcher = undefined;
    if (watcher) await withTimeout(watcher.cancel(), this.options.requestTimeoutMs, 'watch cancel').catch(() => undefined);
  }

  private async list(generation: number): Promise<void> {
    if (this.isStale(generation)) return;
    let revision: string;
    const fresh = new Map<string, string>();
    try {
      const response = await withTimeout(
        this.client.getAll().inRange(this.range).exec(),
        this.options.requestTimeoutMs + 100,
        'range read',
      );
      for (const kv of response.kvs) fresh.set(kv.key.toString(), kv.value.toString());
      revision = response.header.revision;
    } catch (error) {
      if (this.isStale(generation)) return;
      if (!this.outage) {
        this.outage = true;
        this.options.report(unreachable(this.options.endpoints, `reading ${this.describe()}; keeping the last list and retrying with backoff`, error));
      }
      return this.retry(generation);
    }
    if (this.isStale(generation)) return;
    this.outage = false;
    this.entries.clear();
    for (const [key, value] of fresh) this.entries.set(key, value);
    this.watch(generation, BigInt(revision) + 1n);
    this.onUpdate(this.entries, 'list');
  }

  private watch(generation: number, fromRevision: bigint): void {
    const watcher = this.client.watch().inRange(this.range).startRevision(fromRevision.toString()).watcher();
    this.watcher = watcher;
    watcher.on('connected', () => {
      if (!this.isStale(generation)) this.backoff.reset();
    });
    watcher.on('data', (response: IWatchResponse) => {
      if (this.isStale(generation) || response.events.length === 0) return;
      for (const event of response.events) {
        const key = event.kv.key.toString();
        if (event.type === 'Delete') this.entries.delete(key);
        else this.entries.set(key, event.kv.value.toString());
      }
      this.onUpdate(this.entries, 'watch');
    });
    // The stream broke (etcd down, connection reset): etcd3 would resume this watcher by itself, but
    // we detach it and start over with a read, so a compacted or reset etcd cannot leave a gap.
    watcher.on('disconnected', (error: Error) => this.restart(generation, watcher, error, true));
    // etcd cancelled the watch (compaction, or any other reason): etcd3 already dropped it.
    // A listener must always be present: an unhandled 'error' event would crash the process.
    watcher.on('error', (error: Error) => this.restart(generation, watcher, error, false));
  }

  private restart(generation: number, watcher: Watcher, error: Error, detach: boolean): void {
    if (detach) void withTimeout(watcher.cancel(), this.options.requestTimeoutMs, 'watch cancel').catch(() => undefined);
    if (this.isStale(generation)) return;
    this.generation++;
    if (this.watcher === watcher) this.watcher = undefined;
    // A broken stream is reported by the read that follows if etcd is really gone; a cancel is unusual.
    if (!detach) {
      this.options.report(
        new TrellisError(EtcdErrorCodes.WATCH_RESET, `etcd cancelled the watch on ${this.describe()} (${error.message}); reading it again`, { cause: error }),
      );
    }
    this.retry(this.generation);
  }

  private retry(generation: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.list(generation), this.backoff.next());
    this.timer.unref();
  }

  private isStale(generation: number): boolean {
    return this.closed || generation !== this.generation;
  }

  private describe(): string {
    const start = this.range.start.toString();
    return this.range.end.length === 0 ? start : `${start}*`;
  }
}
