import { ExponentialBackoff, type BackoffOptions } from '../backoff.js';
import type { DeadlineTimer } from '../deadline-timer.js';
import type { Endpoint } from '../endpoint.js';
import { Code, RpcError } from '../errors.js';
import type { ConnectionState, OutboundRequest, ResponseSink } from '../transport.js';
import type { ClientStream, OutboundStream } from '../transport-stream.js';
import { TcpClientStream } from './client-stream.js';
import { ClientConnection, type ClientConnectionEvents, type ClientConnectionOptions, type GoAwayKind } from './client-connection.js';

export interface PoolSettings extends ClientConnectionOptions {
  readonly connectionsPerEndpoint: number;
  readonly backoff: BackoffOptions;
  readonly timer: DeadlineTimer;
}

/**
 * The connections to one endpoint: dialled lazily on first use, used round-robin, redialled with
 * exponential backoff + jitter after a failure. While in backoff the endpoint fails fast with a
 * "never sent" UNAVAILABLE, which the kernel's transparent retry sends elsewhere. A connection at
 * the server's maxConcurrentStreams is skipped for one with room; when all are full the call waits
 * in the least-queued connection for a free stream, within its deadline.
 */
export class EndpointPool implements ClientConnectionEvents {
  private readonly connections: (ClientConnection | undefined)[];
  private cursor = 0;
  private readonly backoff: ExponentialBackoff;
  private retryAt = 0;
  private redialTimer: NodeJS.Timeout | undefined;
  private lastError = '';
  private goAwayMessage: string | undefined;
  private closed = false;
  state: ConnectionState = 'idle';

  constructor(
    readonly endpoint: Endpoint,
    private readonly settings: PoolSettings,
    private readonly onState: (pool: EndpointPool, state: ConnectionState, reason: string) => void,
  ) {
    this.connections = new Array(settings.connectionsPerEndpoint).fill(undefined);
    this.backoff = new ExponentialBackoff(settings.backoff);
  }

  send(request: OutboundRequest, sink: ResponseSink): void {
    const connection = this.acquire();
    if (connection === undefined) return sink.onError(this.unavailable());
    connection.send(request, sink);
  }

  /** Opens a stream on a connection of this endpoint (the one a call would use). */
  openStream(stream: OutboundStream): ClientStream {
    const connection = this.acquire();
    if (connection === undefined) return TcpClientStream.failed(this.unavailable());
    return connection.openStream(stream);
  }

  async ping(timeoutMs: number): Promise<number> {
    this.acquire(); // dial if idle, so a heartbeat tells dead from alive
    const open = this.connections.filter((c): c is ClientConnection => c !== undefined && c.state !== 'closed');
    if (open.length === 0) throw this.unavailable();
    // A connection that went down (UNAVAILABLE) does not make the endpoint unreachable while another
    // answers: one address can be several processes (a worker group), and one killed worker's
    // connections must not mark the whole group dead; their slots redial. A PING that went
    // unanswered on a live connection still fails the beat (a slow or stuck provider).
    const outcomes = await Promise.allSettled(open.map((c) => c.ping(timeoutMs)));
    const rtts: number[] = [];
    let down: unknown;
    for (const outcome of outcomes) {
      if (outcome.status === 'fulfilled') rtts.push(outcome.value);
      else if (RpcError.from(outcome.reason).code === Code.UNAVAILABLE) down ??= outcome.reason;
      else throw outcome.reason;
    }
    if (rtts.length === 0) throw down;
    return Math.max(...rtts);
  }

  /** Stops using this endpoint: connections close once their calls finish. */
  close(): void {
    this.closed = true;
    if (this.redialTimer) clearTimeout(this.redialTimer);
    for (const connection of this.connections) connection?.drain(`endpoint ${this.endpoint.id} was removed from the directory`);
    this.setState('closed', 'endpoint removed');
  }

  private acquire(): ClientConnection | undefined {
    if (this.closed || this.state === 'draining') return undefined;
    if (this.state === 'backoff' && (this.settings.now() < this.retryAt || this.dialling())) return undefined;
    const n = this.connections.length;
    let leastQueued: ClientConnection | undefined;
    for (let i = 0; i < n; i++) {
      const slot = this.cursor++ % n;
      let connection = this.connections[slot];
      // A retired (idle) connection is replaced at once; it closes by itself when its calls are done.
      if (connection === undefined || connection.state === 'closed' || connection.retired) connection = this.dial(slot);
      if (connection.state !== 'ready' && connection.state !== 'connecting') continue;
      if (connection.freeSlots > 0) return connection;
      if (leastQueued === undefined || connection.queued < leastQueued.queued) leastQueued = connection;
    }
    return leastQueued;
  }

  /** A redial is under way: calls fail fast meanwhile instead of queueing behind a dial that may fail. */
  private dialling(): boolean {
    return this.connections.some((c) => c !== undefined && c.state === 'connecting');
  }

  private dial(slot: number): ClientConnection {
    const { host, port, id } = this.endpoint;
    const connection = new ClientConnection(id, host, port, this.settings, this);
    this.connections[slot] = connection;
    // A redial after a failure stays "backoff" (dead) until it succeeds: a dial in progress proves nothing.
    if (this.state === 'idle') this.setState('connecting', `dialling ${id}`);
    return connection;
  }

  onReady(_connection: ClientConnection): void {
    this.backoff.reset();
    this.goAwayMessage = undefined;
    if (this.state !== 'draining') this.setState('ready', 'connected');
  }

  onGoAway(_connection: ClientConnection, message: string, kind: GoAwayKind): void {
    // 'retired': only that connection goes, once its calls finish. 'error': the server refused that
    // connection (protocol error, abuse, certificate); it closes now and the close decides what next.
    if (kind !== 'stopping') return;
    this.goAwayMessage = message;
    for (const connection of this.connections) connection?.drain(`endpoint ${this.endpoint.id} is shutting down (GOAWAY: ${message})`);
    this.setState('draining', `GOAWAY: ${message}`);
  }

  onClosed(connection: ClientConnection, connected: boolean, reason: string): void {
    const slot = this.connections.indexOf(connection);
    if (slot >= 0) this.connections[slot] = undefined;
    if (this.closed) return;
    if (this.connections.some((c) => c !== undefined && c.state !== 'closed')) return;
    if (connection.retired || connection.closedForCause) {
      // Retired while idle, or this connection refused for cause (a protocol error, a PING flood):
      // the server is up, so no backoff — the next call dials lazily.
      this.setState('idle', reason);
      return;
    }
    this.lastError = reason;
    if (!connected) this.goAwayMessage = undefined; // a failed redial: the dial error is the news now
    // A provider that said GOAWAY or dropped us may come back on the same address (restart): redial
    // after a backoff. A failed dial grows the backoff; a dropped live connection starts it over.
    if (connected && this.goAwayMessage === undefined) this.backoff.reset();
    const delay = this.backoff.next();
    this.retryAt = this.settings.now() + delay;
    this.setState('backoff', this.goAwayMessage ? `provider went away: ${this.goAwayMessage}` : reason);
    this.scheduleRedial(delay);
  }

  private scheduleRedial(delay: number): void {
    if (this.redialTimer) clearTimeout(this.redialTimer);
    this.redialTimer = setTimeout(() => {
      this.redialTimer = undefined;
      if (!this.closed && this.state === 'backoff') this.dial(0);
    }, delay);
    this.redialTimer.unref();
  }

  private unavailable(): RpcError {
    const id = this.endpoint.id;
    if (this.closed) return new RpcError(Code.UNAVAILABLE, `endpoint ${id} was removed from the directory`, { mayHaveRun: false });
    if (this.state === 'draining') {
      return new RpcError(Code.UNAVAILABLE, `endpoint ${id} is shutting down (GOAWAY: ${this.goAwayMessage ?? ''})`, { mayHaveRun: false });
    }
    const wait = Math.max(0, Math.round(this.retryAt - this.settings.now()));
    return new RpcError(Code.UNAVAILABLE, `endpoint ${id} is unreachable (${this.lastError}); next dial in ${wait} ms`, { mayHaveRun: false });
  }

  private setState(state: ConnectionState, reason: string): void {
    if (this.state === state) return;
    this.state = state;
    this.onState(this, state, reason);
  }
}
