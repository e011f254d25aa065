import { TrellisError } from '@trellis/core';
import { ExponentialBackoff, type BackoffOptions } from '@trellis/core/spi';
import { EtcdLeaseInvalidError, type Etcd3, type ILeaseKeepAliveResponse } from 'etcd3';
import { EtcdErrorCodes, isLeaseInvalid, unreachable } from './errors.js';
import { withTimeout } from './timeout.js';

/** etcd allows 128 operations per transaction by default (--max-txn-ops). */
const PUTS_PER_TXN = 100;

export interface LeaseKeeperOptions {
  readonly endpoints: readonly string[];
  readonly ttlSeconds: number;
  readonly requestTimeoutMs: number;
  readonly checkIntervalMs: number;
  readonly backoff: BackoffOptions;
  readonly report: (error: TrellisError) => void;
}

/**
 * Keeps this process's provider keys in etcd under one lease.
 *
 * It sends its own keepalives (one short request every TTL/3, each with a deadline) rather than
 * etcd3's automatic keepalive stream: that stream can stop silently on a half-open connection and
 * retries every 100 ms without jitter, which is a reconnect storm when a whole fleet loses etcd.
 * Every `checkIntervalMs` it also asks etcd what the lease holds (leaseTimeToLive with keys), which
 * catches a lease revoked or keys deleted behind our back. Whatever is missing is written again,
 * under the same lease when it is alive, under a new one when it is gone: keys are `host:port`, so a
 * re-registration overwrites and never duplicates.
 *
 * All etcd operations run one at a time (`exclusive`), so a keepalive, a register and a recovery
 * can never grant two leases or race on the same key.
 */
export class LeaseKeeper {
  private leaseId: string | undefined;
  /** Every key this registry should hold, with its document. */
  private readonly desired = new Map<string, string>();
  /** Keys written under the current lease. */
  private readonly written = new Set<string>();
  /** Keys deregistered while etcd was unreachable: deleted once it answers again. */
  private readonly orphans = new Set<string>();
  private readonly backoff: ExponentialBackoff;
  private lock: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private lastCheck = 0;
  /** True once etcd has answered at least once: register() then no longer fails on an outage. */
  private connected = false;
  private outage = false;
  private closed = false;

  constructor(private readonly client: Etcd3, private readonly options: LeaseKeeperOptions) {
    this.backoff = new ExponentialBackoff(options.backoff);
  }

  /** The lease in use (for tests and diagnostics). */
  get lease(): string | undefined {
    return this.leaseId;
  }

  /**
   * Writes `key` under the lease, retrying with backoff until `timeoutMs`. A registry that never
   * reached etcd then fails with ERR_REGISTRY_UNREACHABLE (a wrong address must fail start-up); one
   * that did keeps the key and writes it when etcd is back.
   */
  async put(key: string, value: string, timeoutMs: number): Promise<void> {
    this.assertOpen();
    this.desired.set(key, value);
    this.written.delete(key);
    this.orphans.delete(key);
    try {
      await this.retry(timeoutMs, 'register', (deadline) => this.sync(deadline));
    } catch (error) {
      if (!this.connected || this.closed) {
        this.desired.delete(key);
        throw error;
      }
      this.reportOutage(error);
    }
    this.startLoop();
  }

  /** Deletes `key` if it is still ours; on an outage it is deleted later (or expires with the lease). */
  async remove(key: string, timeoutMs: number): Promise<void> {
    if (!this.desired.delete(key) || this.closed) return;
    this.written.delete(key);
    this.orphans.add(key);
    try {
      await this.retry(timeoutMs, 'deregister', (deadline) => this.deleteOrphans(deadline));
    } catch (error) {
      this.reportOutage(error);
    }
  }

  /** Revokes the lease, which deletes every key under it in one step. Idempotent; bounded. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.desired.clear();
    this.orphans.clear();
    await this.exclusive(async () => {
      const id = this.leaseId;
      this.leaseId = undefined;
      if (id === undefined) return;
      try {
        await this.bounded(this.client.leaseClient.leaseRevoke({ ID: id }, this.callOptions()), 'lease revoke');
      } catch (error) {
        // Nothing else to do: the lease and its keys expire after the TTL anyway.
        if (!isLeaseInvalid(error)) this.options.report(unreachable(this.options.endpoints, 'lease revoke on close', error));
      }
    });
  }

  private get keepaliveMs(): number {
    return (this.options.ttlSeconds * 1000) / 3;
  }

  /**
   * The deadline of each request: `requestTimeoutMs`, but never more than a third of the TTL. A request
   * can hang on a member that has lost its leader and does not know it yet (until its election timeout,
   * and a stream opened before then until etcd cancels it); waiting longer than that for a keepalive —
   * or for a write, which holds the keepalives up behind it — lets the lease expire before the registry
   * has tried another member.
   */
  private get requestMs(): number {
    return Math.min(this.options.requestTimeoutMs, this.keepaliveMs);
  }

  private startLoop(): void {
    if (this.timer === undefined && !this.closed) this.schedule(this.keepaliveMs);
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    // unref: a registry alone must not keep a process alive; the server it serves does.
    this.timer = setTimeout(() => void this.tick(), ms);
    this.timer.unref();
  }

  /** One round of the maintenance loop: keepalive, periodic verification, repair. Never throws. */
  private async tick(): Promise<void> {
    if (this.closed) return;
    let next: number;
    try {
      await this.exclusive(async () => {
        const deadline = Date.now() + this.requestMs;
        if (this.closed) return;
        if (this.needsSync()) return this.sync(deadline);
        if (this.leaseId === undefined) return; // nothing registered
        await this.keepalive();
        if (Date.now() - this.lastCheck >= this.options.checkIntervalMs) await this.verify(deadline);
      });
      this.backoff.reset();
      this.outage = false;
      // The periodic check may be due before the next keepalive (checkIntervalMs < TTL/3).
      const checkDue = Math.max(0, this.lastCheck + this.options.checkIntervalMs - Date.now());
      next = this.leaseId === undefined ? this.keepaliveMs : Math.min(this.keepaliveMs, checkDue);
    } catch (error) {
      if (isLeaseInvalid(error)) {
        next = 0; // re-grant and re-register right away
      } else {
        this.reportOutage(error);
        next = this.backoff.next();
      }
    }
    if (!this.closed) this.schedule(next);
  }

  private needsSync(): boolean {
    if (this.orphans.size > 0) return true;
    for (const key of this.desired.keys()) if (!this.written.has(key)) return true;
    return false;
  }

  /** Grants a lease if there is none, then writes what is missing and deletes what is left over. */
  private async sync(deadline: number): Promise<void> {
    this.assertOpen();
    if (this.leaseId === undefined && this.desired.size > 0) {
      const granted = await this.bounded(
        this.client.leaseClient.leaseGrant({ TTL: this.options.ttlSeconds }, this.callOptions(deadline)),
        'lease grant',
        deadline,
      );
      this.leaseId = granted.ID;
      this.written.clear();
      this.lastCheck = Date.now();
    }
    const id = this.leaseId;
    const missing = [...this.desired].filter(([key]) => !this.written.has(key));
    // Batched in transactions: a server with many services, or a re-registration after a lost
    // lease, costs etcd one write per batch instead of one per key.
    for (let i = 0; id !== undefined && i < missing.length; i += PUTS_PER_TXN) {
      const batch = missing.slice(i, i + PUTS_PER_TXN);
      const success = batch.map(([key, value]) => ({ request_put: { key: Buffer.from(key), value: Buffer.from(value), lease: id } }));
      try {
        await this.bounded(this.client.kv.txn({ success }, this.callOptions(deadline)), 'put', deadline);
      } catch (error) {
        if (isLeaseInvalid(error)) this.leaseLost(id, error);
        throw error;
      }
      for (const [key] of batch) this.written.add(key);
    }
    await this.deleteOrphans(deadline);
  }

  /** Deletes keys we no longer want, but only while they are still under our lease (not a newer owner's). */
  private async deleteOrphans(deadline: number): Promise<void> {
    for (const key of [...this.orphans]) {
      if (this.desired.has(key)) {
        this.orphans.delete(key);
        continue;
      }
      if (this.leaseId !== undefined) {
        const txn = this.client
          .if(key, 'Lease', '==', this.leaseId)
          .then(this.client.delete().key(key))
          .options(this.callOptions(deadline));
        await this.bounded(txn.commit(), 'delete', deadline);
      }
      this.orphans.delete(key);
    }
  }

  private async keepalive(): Promise<void> {
    const id = this.leaseId!;
    const timeoutMs = this.requestMs;
    // Not bounded(): opening a stream proves nothing (grpc-js opens it lazily); only an answer does.
    const stream = await withTimeout(this.client.leaseClient.leaseKeepAlive({ deadline: Date.now() + timeoutMs }), timeoutMs, 'keepalive');
    const answer = new Promise<ILeaseKeepAliveResponse>((resolve, reject) => {
      stream.on('data', resolve);
      stream.on('error', reject);
      stream.on('end', () => reject(new Error('keepalive stream ended without an answer')));
      stream.write({ ID: id });
    });
    const response = await withTimeout(answer, timeoutMs, 'lease keepalive', () => stream.cancel());
    stream.end();
    this.answered();
    // TTL 0: etcd no longer knows the lease (expired during a partition, or revoked).
    if (Number(response.TTL) <= 0) this.leaseLost(id, new EtcdLeaseInvalidError(id));
  }

  /** Asks etcd what our lease holds: repairs missing keys, drops the lease if etcd forgot it. */
  private async verify(deadline: number): Promise<void> {
    const id = this.leaseId!;
    const info = await this.bounded(
      this.client.leaseClient.leaseTimeToLive({ ID: id, keys: true }, this.callOptions(deadline)),
      'lease check',
      deadline,
    );
    this.lastCheck = Date.now();
    if (Number(info.TTL) <= 0) this.leaseLost(id, new EtcdLeaseInvalidError(id));
    const attached = new Set(info.keys.map((k) => k.toString()));
    let missing = 0;
    for (const key of this.desired.keys()) {
      if (!attached.has(key)) {
        this.written.delete(key);
        missing++;
      }
    }
    for (const key of attached) if (!this.desired.has(key)) this.orphans.add(key);
    if (missing > 0) {
      this.options.report(new TrellisError(EtcdErrorCodes.KEY_LOST, `${missing} provider key(s) disappeared from lease ${id}; writing them again`));
    }
    if (this.needsSync()) await this.sync(deadline);
  }

  private leaseLost(id: string, cause: unknown): never {
    if (this.leaseId === id) {
      this.leaseId = undefined;
      this.written.clear();
      this.options.report(
        new TrellisError(EtcdErrorCodes.LEASE_LOST, `etcd lease ${id} expired or was revoked; granting a new one and registering again`, { cause }),
      );
    }
    throw cause instanceof EtcdLeaseInvalidError ? cause : new EtcdLeaseInvalidError(id);
  }

  /** Runs `attempt` with a jittered backoff between tries until `timeoutMs` has passed. */
  private async retry(timeoutMs: number, what: string, attempt: (deadline: number) => Promise<void>): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const backoff = new ExponentialBackoff(this.options.backoff);
    for (;;) {
      this.assertOpen();
      try {
        await this.exclusive(() => attempt(deadline));
        return;
      } catch (error) {
        this.assertOpen();
        const left = deadline - Date.now();
        if (left <= 0) throw unreachable(this.options.endpoints, `${what} within ${timeoutMs} ms`, error);
        // A lost lease was already dropped: the next try grants a new one at once.
        if (isLeaseInvalid(error)) continue;
        // A ref'd timer: an awaited register() must keep a bare script alive until it settles.
        await new Promise((resolve) => setTimeout(resolve, Math.min(backoff.next(), left)));
      }
    }
  }

  private reportOutage(error: unknown): void {
    if (this.outage) return; // once per outage, not once per retry
    this.outage = true;
    this.options.report(
      error instanceof TrellisError ? error : unreachable(this.options.endpoints, 'keeping provider keys alive; retrying with backoff', error),
    );
  }

  private callOptions(deadline = Date.now() + this.requestMs): { deadline: number } {
    return { deadline: Math.min(deadline, Date.now() + this.requestMs) };
  }

  /** The RPC deadline normally ends a call; this also ends one whose deadline was not honoured. */
  private async bounded<T>(promise: Promise<T>, what: string, deadline = Date.now() + this.requestMs): Promise<T> {
    const ms = Math.max(1, Math.min(deadline - Date.now(), this.requestMs)) + 100;
    const result = await withTimeout(promise, ms, what);
    this.answered();
    return result;
  }

  private answered(): void {
    this.connected = true;
    this.outage = false;
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private assertOpen(): void {
    if (this.closed) throw new TrellisError(EtcdErrorCodes.REGISTRY_CLOSED, 'the etcd registry is closed; create a new one');
  }
}
