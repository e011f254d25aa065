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

/** How long a broken watch stream may take to come back before it is reported as an outage. */
const OUTAGE_AFTER_MS = 1000;

/** What changed the mirror: a full (re-)read, or events from the watch. */
export type RangeUpdate = 'list' | 'watch';

/**
 * Mirrors one etcd key range (all keys under a prefix, or one key) in memory: a range read, then a
 * watch starting at the revision right after that read, so no change falls in between and nothing is
 * polled. While etcd is unreachable the mirror keeps its last content: an outage never looks like an
 * empty range.
 *
 * When the watch stream breaks (a member down, cut off from its peers, restarted), the watch resumes
 * from the revision after the last change it delivered — etcd replays what happened in between — so a
 * fleet coming back after an outage costs etcd one watch request per range, not a read. etcd3 re-opens
 * the stream itself, on the pinned member, after the registry's jittered backoff. Only two cases need
 * the range read again:
 * - etcd cancels the watch: the revision to resume from was compacted away (or another cancel);
 * - the member answers with a revision older than one already seen, or another cluster id: etcd's data
 *   was replaced (restored, or a new cluster), and revisions from before mean nothing any more.
 *
 * The revision to resume from is tracked here, not left to etcd3: etcd3 moves it to the header's
 * revision on every answer, which skips events etcd has not sent yet (the answer to a create carries the
 * current revision before the replay; a replay of more than 1,000 revisions comes in several answers).
 * Like clientv3, the next revision is one past the last event delivered, or past a progress notice.
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
  /** The first revision the watch has not delivered yet: where it resumes. */
  private nextRevision = 0n;
  private clusterId: string | undefined;
  /** Runs while the watch stream is broken: a stream not back within OUTAGE_AFTER_MS is reported. */
  private outageTimer: NodeJS.Timeout | undefined;
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
    clearTimeout(this.outageTimer);
    const watcher = this.watcher;
    this.watcher = undefined;
    if (watcher) await this.cancel(watcher);
  }

  private async list(generation: number): Promise<void> {
    if (this.isStale(generation)) return;
    let header: { revision: string; cluster_id: string };
    const fresh = new Map<string, string>();
    try {
      const response = await withTimeout(
        this.client.getAll().inRange(this.range).exec(),
        this.options.requestTimeoutMs + 100,
        'range read',
      );
      for (const kv of response.kvs) fresh.set(kv.key.toString(), kv.value.toString());
      header = response.header;
    } catch (error) {
      if (this.isStale(generation)) return;
      this.reportOutage(`reading ${this.describe()}; keeping the last list and retrying with backoff`, error);
      return this.retry(generation);
    }
    if (this.isStale(generation)) return;
    this.outage = false;
    this.entries.clear();
    for (const [key, value] of fresh) this.entries.set(key, value);
    this.nextRevision = BigInt(header.revision) + 1n;
    this.clusterId = header.cluster_id;
    this.watch(generation);
    this.onUpdate(this.entries, 'list');
  }

  private watch(generation: number): void {
    const watcher = this.client.watch().inRange(this.range).startRevision(this.nextRevision.toString()).watcher();
    this.watcher = watcher;
    watcher.on('connected', (response: IWatchResponse) => {
      if (this.isStale(generation)) return;
      if (this.replaced(response)) {
        this.restart(generation, watcher, true, `etcd answered the watch on ${this.describe()} with revision ${response.header.revision} of cluster ${response.header.cluster_id}, behind revision ${this.nextRevision - 1n} of cluster ${this.clusterId} already seen: its data was replaced; reading it again`);
        return;
      }
      clearTimeout(this.outageTimer);
      this.outageTimer = undefined;
      this.outage = false;
      this.backoff.reset();
      this.resumeFrom(watcher);
    });
    watcher.on('data', (response: IWatchResponse) => {
      if (this.isStale(generation)) return;
      const last = response.events.at(-1);
      if (last) this.nextRevision = BigInt(last.kv.mod_revision) + 1n;
      else if (!response.created && !response.canceled) this.nextRevision = BigInt(response.header.revision) + 1n; // progress notice
      this.resumeFrom(watcher);
      if (response.events.length === 0) return;
      for (const event of response.events) {
        const key = event.kv.key.toString();
        if (event.type === 'Delete') this.entries.delete(key);
        else this.entries.set(key, event.kv.value.toString());
      }
      this.onUpdate(this.entries, 'watch');
    });
    // The stream broke (member down, unreachable, cut off from its leader): etcd3 opens a new one after
    // the backoff and re-creates this watcher from `resumeFrom`. Nothing to do but say so if it lasts
    // (a failover to another member takes a fraction of a second and is not an outage).
    watcher.on('disconnected', (error: Error) => {
      if (this.isStale(generation) || this.outageTimer) return;
      this.outageTimer = setTimeout(() => {
        this.outageTimer = undefined;
        if (!this.isStale(generation)) this.reportOutage(`watching ${this.describe()}; keeping the last list and resuming the watch from revision ${this.nextRevision}`, error);
      }, OUTAGE_AFTER_MS);
      this.outageTimer.unref();
    });
    // etcd cancelled the watch (compaction, or any other reason): etcd3 already dropped it.
    // A listener must always be present: an unhandled 'error' event would crash the process.
    watcher.on('error', (error: Error) => {
      if (this.isStale(generation)) return;
      this.options.report(
        new TrellisError(EtcdErrorCodes.WATCH_RESET, `etcd cancelled the watch on ${this.describe()} (${error.message}); reading it again`, { cause: error }),
      );
      this.restart(generation, watcher, false);
    });
  }

  /** etcd3 overwrote the request's revision with the answer's header; put back the one that loses nothing. */
  private resumeFrom(watcher: Watcher): void {
    watcher.request.start_revision = this.nextRevision.toString();
  }

  /** An answer from a store older than what was seen, or from another cluster: revisions are not comparable. */
  private replaced(response: IWatchResponse): boolean {
    return BigInt(response.header.revision) + 1n < this.nextRevision || (this.clusterId !== undefined && response.header.cluster_id !== this.clusterId);
  }

  /** Drops the watcher (cancelling it if etcd still holds it) and reads the range again after the backoff. */
  private restart(generation: number, watcher: Watcher, cancel: boolean, why?: string): void {
    if (this.isStale(generation)) return;
    this.generation++;
    clearTimeout(this.outageTimer);
    this.outageTimer = undefined;
    if (this.watcher === watcher) this.watcher = undefined;
    if (cancel) void this.cancel(watcher);
    if (why) this.options.report(new TrellisError(EtcdErrorCodes.WATCH_RESET, why));
    this.retry(this.generation);
  }

  private retry(generation: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.list(generation), this.backoff.next());
    this.timer.unref();
  }

  private cancel(watcher: Watcher): Promise<void> {
    return withTimeout(watcher.cancel(), this.options.requestTimeoutMs, 'watch cancel').catch(() => undefined);
  }

  private reportOutage(what: string, error: unknown): void {
    if (this.outage) return;
    this.outage = true;
    this.options.report(unreachable(this.options.endpoints, what, error));
  }

  private isStale(generation: number): boolean {
    return this.closed || generation !== this.generation;
  }

  private describe(): string {
    const start = this.range.start.toString();
    return this.range.end.length === 0 ? start : `${start}*`;
  }
}
