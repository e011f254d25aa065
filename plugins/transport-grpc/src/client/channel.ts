import { connect, constants, type ClientHttp2Session, type SecureClientSessionOptions } from 'node:http2';
import { Code, RpcError } from '@trellis/core';
import { ExponentialBackoff, type BackoffOptions, type ConnectionState } from '@trellis/core/spi';
import { authorityOf, targetKey, type GrpcTarget } from './target.js';

export interface ChannelOptions {
  /** TLS options for `grpcs` targets (ca, cert, key, servername…); ALPN h2 is always offered. */
  readonly tls?: SecureClientSessionOptions;
  /** A connection attempt fails after this long (default 5000 ms). */
  readonly connectTimeoutMs?: number;
  /** Send an HTTP/2 PING after this long without one (default 0 = no keepalive). */
  readonly keepaliveIntervalMs?: number;
  /** A keepalive PING not answered within this closes the connection (default 20,000 ms). */
  readonly keepaliveTimeoutMs?: number;
  /** Redial delays after a failed connection; calls meanwhile fail fast with UNAVAILABLE (never ran). */
  readonly backoff?: BackoffOptions;
  /** HTTP/2 connections kept per target, calls spread over them round-robin (default 1). */
  readonly connectionsPerTarget?: number;
  readonly onStateChange?: (target: GrpcTarget, state: ConnectionState, reason: string) => void;
}

/** One HTTP/2 connection with what a call needs to know about its fate. */
export type Connection = ClientHttp2Session & {
  /** True once the connection was established: before that no stream's bytes can have left. */
  trellisConnected?: boolean;
  /** Set by a GOAWAY: streams with a higher id were never processed by the server. */
  trellisLastStreamId?: number;
  /** Calls in progress on this connection (see `GrpcChannel.hold`). */
  trellisActive?: number;
};

/**
 * The connections to one gRPC server: dialled on first use, reused by every call, replaced after
 * GOAWAY or a drop, with exponential backoff after a failed dial (calls during backoff fail fast,
 * never ran). Optional keepalive PINGs close a connection that stopped answering.
 */
export class GrpcChannel {
  readonly authority: string;
  private readonly slots: (Connection | undefined)[];
  private next = 0;
  private readonly backoff: ExponentialBackoff;
  private backoffUntil = 0;
  private lastFailure = '';
  private current: ConnectionState = 'idle';
  private closed = false;

  constructor(readonly target: GrpcTarget, private readonly options: ChannelOptions) {
    this.authority = authorityOf(target);
    this.slots = new Array(options.connectionsPerTarget ?? 1).fill(undefined);
    this.backoff = new ExponentialBackoff(options.backoff ?? { initialMs: 200, maxMs: 10_000 });
  }

  get key(): string {
    return targetKey(this.target);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get state(): ConnectionState {
    return this.current;
  }

  /** A connection to send a call on; throws UNAVAILABLE (never ran) while closed or backing off. */
  connection(): Connection {
    if (this.closed) throw new RpcError(Code.UNAVAILABLE, `the channel to ${this.key} is closed`, { mayHaveRun: false });
    const index = this.slots.length === 1 ? 0 : this.next++ % this.slots.length;
    const existing = this.slots[index];
    if (existing !== undefined && !existing.closed && !existing.destroyed && existing.trellisLastStreamId === undefined) return existing;
    if (performance.now() < this.backoffUntil) {
      throw new RpcError(Code.UNAVAILABLE, `${this.key} is unreachable (${this.lastFailure}); next attempt in ${Math.ceil(this.backoffUntil - performance.now())} ms`, { mayHaveRun: false });
    }
    const created = this.dial();
    this.slots[index] = created;
    return created;
  }

  /**
   * A call in progress holds the event loop, so a script awaiting it does not exit mid-call (an idle
   * connection does not: see `dial`). Each hold is paired with one `release`, when the call's stream
   * closed (a counter on the connection rather than a release closure per call).
   */
  hold(session: Connection): void {
    session.trellisActive = (session.trellisActive ?? 0) + 1;
    if (session.trellisActive === 1) session.ref();
  }

  release(session: Connection): void {
    session.trellisActive = (session.trellisActive ?? 1) - 1;
    if (session.trellisActive === 0 && !session.destroyed) session.unref();
  }

  /** Round trip of an HTTP/2 PING on every open connection (the slowest), for health checks. */
  async ping(timeoutMs: number): Promise<number> {
    const open = this.slots.filter((c): c is Connection => c !== undefined && !c.closed && !c.destroyed);
    if (open.length === 0) open.push(this.connection());
    const times = await Promise.all(open.map((session) => pingOnce(session, timeoutMs)));
    return Math.max(...times);
  }

  close(): void {
    this.closed = true;
    for (const session of this.slots) session?.close();
    this.setState('closed', 'closed by the client');
  }

  private dial(): Connection {
    const url = `${this.target.tls ? 'https' : 'http'}://${this.authority}`;
    const session: Connection = this.target.tls
      ? connect(url, { ...this.options.tls, ALPNProtocols: ['h2'] })
      : connect(url);
    this.setState('connecting', `dialling ${this.key}`);
    const connectTimeout = setTimeout(() => session.destroy(new Error(`no connection within ${this.options.connectTimeoutMs ?? 5000} ms`)), this.options.connectTimeoutMs ?? 5000);
    connectTimeout.unref();
    session.on('connect', () => {
      clearTimeout(connectTimeout);
      session.trellisConnected = true;
      this.backoff.reset();
      this.setState('ready', `connected to ${this.key}`);
      this.startKeepalive(session);
    });
    session.on('error', (error: Error) => {
      this.lastFailure = error.message;
    });
    session.on('goaway', (errorCode: number, lastStreamId: number) => {
      session.trellisLastStreamId = lastStreamId;
      this.setState('draining', `GOAWAY from ${this.key} (code ${errorCode})`);
    });
    session.once('close', () => {
      clearTimeout(connectTimeout);
      const index = this.slots.indexOf(session);
      if (index >= 0) this.slots[index] = undefined;
      if (!session.trellisConnected && !this.closed) {
        this.backoffUntil = performance.now() + this.backoff.next();
        this.setState('backoff', `cannot connect to ${this.key}: ${this.lastFailure || 'connection closed'}`);
      } else if (!this.closed && this.slots.every((s) => s === undefined)) {
        this.setState('idle', `connection to ${this.key} closed`);
      }
    });
    // An idle client process may exit: the connection does not hold the event loop (calls in
    // progress do, through `hold`).
    session.unref();
    return session;
  }

  private startKeepalive(session: Connection): void {
    const interval = this.options.keepaliveIntervalMs ?? 0;
    if (interval <= 0) return;
    const timeout = this.options.keepaliveTimeoutMs ?? 20_000;
    const timer = setInterval(() => {
      pingOnce(session, timeout).catch(() => {
        this.lastFailure = `keepalive PING not answered within ${timeout} ms`;
        session.destroy();
      });
    }, interval);
    timer.unref();
    session.once('close', () => clearInterval(timer));
  }

  private setState(state: ConnectionState, reason: string): void {
    if (this.current === state) return;
    this.current = state;
    this.options.onStateChange?.(this.target, state, reason);
  }
}

function pingOnce(session: Connection, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new RpcError(Code.UNAVAILABLE, `PING not answered within ${timeoutMs} ms`)), timeoutMs);
    const send = () => {
      try {
        session.ping((error, duration) => {
          clearTimeout(timer);
          if (error) reject(new RpcError(Code.UNAVAILABLE, `PING failed: ${error.message}`));
          else resolve(duration);
        });
      } catch (error) {
        clearTimeout(timer);
        reject(new RpcError(Code.UNAVAILABLE, `PING failed: ${(error as Error).message}`));
      }
    };
    // A PING can only be sent once the connection is up (node refuses it before).
    if (session.trellisConnected) send();
    else session.once('connect', send);
  });
}

export const RST_CANCEL = constants.NGHTTP2_CANCEL;
