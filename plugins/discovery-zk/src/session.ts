import { createClient, State } from 'node-zookeeper-client';
import { TrellisError } from '@trellis/core';
import { ExponentialBackoff } from '@trellis/core/spi';
import { nodeAcl } from './auth.js';
import { closedError, reportable, unreachable, writeFailed, ZooKeeperErrorCodes } from './errors.js';
import type { ResolvedOptions } from './options.js';
import { StallWatchdog } from './stall-watchdog.js';
import { ZkHandle } from './zk-handle.js';
import { guardReplies, paceRedials } from './zk-internals.js';

export interface SessionHooks {
  /** A connection is up. `fresh`: a new session, so ephemeral nodes and watches of the old one are gone. */
  connected(handle: ZkHandle, fresh: boolean): void;
}

/** Session ids this process held recently; nodes they own are ours to replace or delete. */
const OWN_SESSIONS_KEPT = 64;

/**
 * Owns the ZooKeeper client and replaces it when its session is lost.
 *
 * The library reconnects by itself after a plain disconnect and keeps the session (and re-sets its
 * watches), so a disconnect changes nothing here. Its redials are paced by the registry's backoff
 * (`paceRedials`): the other servers of the ensemble at once, then rounds that pause longer and longer,
 * with jitter, up to a window that scales with the fleet — so a fleet that lost its ensemble comes back
 * spread out, not in the same second.
 *
 * A session is lost when the server says `expired`, or when servers have been answering our dials for
 * longer than the session timeout without taking the session back: the ensemble was replaced or
 * restarted empty (it refuses a client that has seen a newer zxid, and the old client would only keep
 * dialling), or it has no quorum. A dial that reaches no server starts that wait again. While no server
 * can be reached at all, the session is kept however long that lasts: a server that comes back with its data restores every session with a full timeout,
 * so giving the session up (Curator's rule: disconnected longer than the session timeout) would only
 * expire it needlessly — and, for a fleet, turn a restart into a storm of new sessions, registrations
 * and reads. A lost session means a new client, created after a jittered exponential backoff.
 */
export class ZkSession {
  private handle: ZkHandle | undefined;
  private watchdog: StallWatchdog | undefined;
  private live: ZkHandle | undefined;
  private lastSessionId: string | undefined;
  private readonly ownSessions: string[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly backoff: ExponentialBackoff;
  /** Pauses between rounds of redials over the ensemble; reset once connected. */
  private readonly redials: ExponentialBackoff;
  private lossTimer: NodeJS.Timeout | undefined;
  private reopenTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private losesOnDisconnect = false;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly hooks: SessionHooks,
  ) {
    this.backoff = new ExponentialBackoff(options.backoff);
    this.redials = new ExponentialBackoff(options.redialBackoff);
  }

  /** The connected client, or undefined while (re)connecting. */
  current(): ZkHandle | undefined {
    return this.live;
  }

  get sessionId(): string | undefined {
    return this.live?.sessionId;
  }

  /** True once any session was established: from then on an outage is not a start-up error. */
  get hasConnected(): boolean {
    return this.lastSessionId !== undefined;
  }

  isOwnSession(sessionId: string): boolean {
    return this.ownSessions.includes(sessionId);
  }

  unreachable(waitedMs: number): TrellisError {
    return unreachable(this.options.connectString, waitedMs);
  }

  /** A refused write as ERR_REGISTRY_REQUEST_FAILED; an ACL refusal names the configured user. */
  writeFailed(what: 'write' | 'sync', path: string, cause: unknown): TrellisError {
    return writeFailed(what, path, cause, this.options.auth);
  }

  /** Opens the first client; later calls do nothing. */
  start(): void {
    if (!this.closed && !this.handle && !this.reopenTimer) this.open();
  }

  /**
   * The connected client; ERR_REGISTRY_UNREACHABLE (naming the address) after `timeoutMs`. `budgetMs`
   * is the whole wait the caller allowed, for the message, when this is the rest of it.
   */
  whenConnected(timeoutMs = this.options.connectTimeoutMs, budgetMs = timeoutMs): Promise<ZkHandle> {
    if (this.closed) return Promise.reject(closedError());
    this.start();
    if (this.live) return Promise.resolve(this.live);
    return new Promise<ZkHandle>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(wake);
        reject(this.unreachable(budgetMs));
      }, timeoutMs);
      const wake = (): void => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        if (this.live) resolve(this.live);
        else reject(closedError());
      };
      this.waiters.add(wake);
    });
  }

  /** Closes the session (the server then deletes its ephemeral nodes and watches). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clearTimers();
    this.stopWatchdog();
    const handle = this.handle;
    const live = this.live;
    this.handle = this.live = undefined;
    for (const wake of [...this.waiters]) wake();
    if (!handle) return;
    if (live === handle) {
      // A graceful close: the server ends the session now instead of after the timeout.
      const gone = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2000);
        handle.client.once('disconnected', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      try {
        handle.client.close();
      } catch {
        // Nothing to close.
      }
      await gone;
    }
    handle.discard();
  }

  private open(): void {
    this.reopenTimer = undefined;
    if (this.closed) return;
    const client = createClient(this.options.connectString, {
      sessionTimeout: this.options.sessionTimeoutMs,
      // The library's own redial pause (random 0..spinDelay) between rounds over the ensemble.
      spinDelay: Math.min(1000, Math.max(100, Math.floor(this.options.connectTimeoutMs / 3))),
      retries: 0,
    });
    // Before connect(), and on every client, a re-created one included: the library then sends the
    // credentials on each (re)connection right after the handshake, ahead of any request issued once
    // connected, so the re-sync of a new session writes as the same user.
    const auth = this.options.auth;
    if (auth) client.addAuthInfo(auth.scheme, Buffer.from(auth.credentials));
    // Longer than any disconnect the session survives: by then the client was replaced and the
    // request failed anyway; an answer lost inside a live connection is the only case left.
    const handle = new ZkHandle(client, this.options.sessionTimeoutMs + this.options.connectTimeoutMs, {
      acl: nodeAcl(this.options.acl),
      authenticated: auth !== undefined,
    });
    this.handle = handle;
    const paced = paceRedials(client, {
      nextDelay: () => this.redialDelay(),
      reached: () => this.onReached(handle),
      unreached: () => this.onUnreached(handle),
    });
    // Another library version: no redial pacing and no dial reports; fall back to Curator's rule.
    if (!paced) this.losesOnDisconnect = true;
    guardReplies(client, (error) =>
      this.options.onError(reportable(ZooKeeperErrorCodes.REQUEST_FAILED, 'dropped a connection after an unreadable ZooKeeper reply', error)),
    );
    this.watchdog = new StallWatchdog(
      client,
      {
        handshakeMs: Math.max(250, Math.min(this.options.connectTimeoutMs / 2, (this.options.sessionTimeoutMs * 2) / 3)),
        readMs: () => (client.getSessionTimeout() * 2) / 3,
      },
      () => this.live === handle,
    );
    client.on('state', (state: State) => {
      if (this.handle !== handle || this.closed) return;
      if (state === State.SYNC_CONNECTED || state === State.CONNECTED_READ_ONLY) this.onConnected(handle);
      else if (state === State.DISCONNECTED) this.onDisconnected(handle);
      else if (state === State.EXPIRED) this.replace(handle, 'server');
      else if (state === State.AUTH_FAILED) this.onAuthFailed();
    });
    client.connect();
  }

  private onConnected(handle: ZkHandle): void {
    const sessionId = handle.sessionId;
    const fresh = sessionId !== this.lastSessionId;
    this.lastSessionId = sessionId;
    if (!this.ownSessions.includes(sessionId)) {
      this.ownSessions.push(sessionId);
      if (this.ownSessions.length > OWN_SESSIONS_KEPT) this.ownSessions.shift();
    }
    if (this.lossTimer) clearTimeout(this.lossTimer);
    this.lossTimer = undefined;
    this.backoff.reset();
    this.redials.reset();
    this.live = handle;
    for (const wake of [...this.waiters]) wake();
    this.options.onEvent({ type: 'connected', sessionId, fresh });
    this.hooks.connected(handle, fresh);
  }

  private onDisconnected(handle: ZkHandle): void {
    const hadSession = this.live === handle;
    this.live = undefined;
    if (hadSession) this.options.onEvent({ type: 'disconnected' });
    if (this.losesOnDisconnect) this.startLossTimer(handle);
  }

  /**
   * The pause before the next round of redials. Until the first session the registry is starting up,
   * and `connectTimeoutMs` is its whole budget: rounds then come at least three times within it.
   */
  private redialDelay(): number {
    const delay = this.redials.next();
    return this.hasConnected ? delay : Math.min(delay, this.options.connectTimeoutMs / 3);
  }

  /** A dial reached a server while the session is down: from now on, a server could take it back. */
  private onReached(handle: ZkHandle): void {
    if (this.handle === handle && !this.live) this.startLossTimer(handle);
  }

  /**
   * A dial found no server. The servers that answered before (a server that was dying, say) are not
   * answering any more: the session is not being refused, so the wait starts again at the next answer.
   */
  private onUnreached(handle: ZkHandle): void {
    if (this.handle !== handle || this.live || this.losesOnDisconnect || !this.lossTimer) return;
    clearTimeout(this.lossTimer);
    this.lossTimer = undefined;
  }

  /** Gives the session up if it is not back within the session timeout. */
  private startLossTimer(handle: ZkHandle): void {
    // Only a client that holds a session can lose it; a client still dialling for its first session
    // has nothing to lose and keeps dialling.
    if (this.lossTimer || this.lastSessionId === undefined || handle.sessionId !== this.lastSessionId) return;
    const timeout = handle.client.getSessionTimeout();
    this.lossTimer = setTimeout(() => {
      this.lossTimer = undefined;
      if (this.handle === handle && !this.live) this.replace(handle, 'disconnected-too-long');
    }, timeout);
  }

  private replace(handle: ZkHandle, reason: 'server' | 'disconnected-too-long'): void {
    const sessionId = handle.sessionId;
    this.live = undefined;
    this.handle = undefined;
    this.stopWatchdog();
    if (this.lossTimer) clearTimeout(this.lossTimer);
    this.lossTimer = undefined;
    handle.discard();
    this.options.onEvent({ type: 'expired', sessionId, reason });
    const why = reason === 'server' ? 'expired' : `was given up: servers answered for ${handle.client.getSessionTimeout()} ms without taking it back`;
    this.options.onError(
      new TrellisError(ZooKeeperErrorCodes.SESSION_EXPIRED, `ZooKeeper session ${sessionId} ${why}; opening a new one and registering again`),
    );
    const delay = this.backoff.next();
    this.reopenTimer = setTimeout(() => this.open(), delay);
  }

  /**
   * The server rejected the credentials and closes the connection, after which the library stops
   * dialling; the disconnect then gives the session up after the session timeout like any other, so
   * this only has to say why. Digest authentication does not fail on a stock server, but a server
   * whose digest provider is disabled answers AUTH_FAILED.
   */
  private onAuthFailed(): void {
    const who = this.options.auth ? `the credentials of digest user "${this.options.auth.user}"` : 'the connection';
    this.options.onError(
      new TrellisError(
        ZooKeeperErrorCodes.REQUEST_FAILED,
        `ZooKeeper at ${this.options.connectString} refused ${who} (AUTH_FAILED); check the registry's auth option and the server's authentication providers`,
      ),
    );
  }

  private stopWatchdog(): void {
    this.watchdog?.stop();
    this.watchdog = undefined;
  }

  private clearTimers(): void {
    if (this.lossTimer) clearTimeout(this.lossTimer);
    if (this.reopenTimer) clearTimeout(this.reopenTimer);
    this.lossTimer = this.reopenTimer = undefined;
  }
}
