import type { BackoffOptions } from '../backoff.js';
import { systemClock, type Clock } from '../clock.js';
import { DeadlineTimer } from '../deadline-timer.js';
import type { Endpoint } from '../endpoint.js';
import type { Disposable } from '../registry.js';
import type {
  ClientTransport, ConnectionEvent, ConnectionState, InboundResponse, OutboundRequest, ResponseSink,
} from '../transport.js';
import type { ClientStream, OutboundStream } from '../transport-stream.js';
import { invalidOption } from '../errors.js';
import type { FrameLimits } from './frame.js';
import { EndpointPool, type PoolSettings } from './endpoint-pool.js';
import { integerOption, rejectUnknownTcpClientKeys, resolveFrameLimits } from './options.js';
import { DEFAULT_MAX_PINGS_PER_SECOND } from './ping-rate-limit.js';
import { DEFAULT_STREAM_WINDOW, MIN_STREAM_WINDOW } from './settings.js';
import { MAX_WINDOW } from './frame.js';

export interface TcpClientOptions {
  /** Connections per endpoint, each multiplexing many calls (default 1). */
  readonly connectionsPerEndpoint?: number;
  /** Dial timeout, covering the TLS handshake and the SETTINGS exchange (default 3000 ms). */
  readonly connectTimeoutMs?: number;
  /** Redial backoff after a failed dial (default 100 ms doubling to 10 s, ±20 % jitter). */
  readonly backoff?: BackoffOptions;
  /** What this client accepts in responses; announced to servers, which fit their answers to it. */
  readonly limits?: Partial<FrameLimits>;
  /** PINGs per second a server may send on one connection before it is closed (default 100). */
  readonly maxPingsPerSecond?: number;
  readonly clock?: Clock;
  /** Connect over TLS (node:tls options: ca, and cert + key for mutual TLS; servername). */
  readonly tls?: import('node:tls').ConnectionOptions;
  /**
   * Bytes of stream messages a server may send on one stream before this client's consumer takes
   * some (receive credit, default 64 KiB; 1,024..2^31-1): the most one stream buffers here.
   */
  readonly streamWindow?: number;
}

/** The default client transport: a pool of multiplexed TCP connections per endpoint. */
export class TcpClientTransport implements ClientTransport {
  private readonly pools = new Map<string, EndpointPool>();
  private readonly listeners = new Set<(event: ConnectionEvent) => void>();
  private readonly settings: PoolSettings;

  constructor(options: TcpClientOptions = {}) {
    rejectUnknownTcpClientKeys(options);
    const connections = options.connectionsPerEndpoint ?? 1;
    if (!Number.isInteger(connections) || connections < 1 || connections > 64) {
      throw invalidOption('connectionsPerEndpoint', connections, 'an integer in 1..64');
    }
    const connectTimeoutMs = options.connectTimeoutMs ?? 3000;
    if (!(connectTimeoutMs > 0)) throw invalidOption('connectTimeoutMs', connectTimeoutMs, 'a positive number of ms');
    const clock = options.clock ?? systemClock;
    const now = () => clock.now();
    this.settings = {
      connectionsPerEndpoint: connections,
      connectTimeoutMs,
      limits: resolveFrameLimits(options.limits),
      maxPingsPerSecond: integerOption('maxPingsPerSecond', options.maxPingsPerSecond, 1, 1_000_000, DEFAULT_MAX_PINGS_PER_SECOND),
      backoff: { initialMs: 100, maxMs: 10_000, ...options.backoff },
      timer: new DeadlineTimer(now),
      now,
      tls: options.tls,
      streamWindow: integerOption('streamWindow', options.streamWindow, MIN_STREAM_WINDOW, MAX_WINDOW, DEFAULT_STREAM_WINDOW),
    };
  }

  call(endpoint: Endpoint, request: OutboundRequest): Promise<InboundResponse> {
    return new Promise((resolve, reject) => {
      this.send(endpoint, request, {
        // The body is a view of the read buffer, which Node does not reuse: it may outlive the callback.
        onResponse: (body, metadata) => resolve({ body, metadata }),
        onError: reject,
      });
    });
  }

  send(endpoint: Endpoint, request: OutboundRequest, sink: ResponseSink): void {
    this.pool(endpoint).send(request, sink);
  }

  /** Opens one stream (transport-stream.ts); never throws — a stream that cannot open fails through its outcomes. */
  openStream(endpoint: Endpoint, stream: OutboundStream): ClientStream {
    return this.pool(endpoint).openStream(stream);
  }

  ping(endpoint: Endpoint, timeoutMs: number): Promise<number> {
    return this.pool(endpoint).ping(timeoutMs);
  }

  state(endpoint: Endpoint): ConnectionState {
    return this.pools.get(endpoint.id)?.state ?? 'idle';
  }

  onStateChange(listener: (event: ConnectionEvent) => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  retain(endpoints: readonly Endpoint[]): void {
    const keep = new Set(endpoints.map((e) => e.id));
    for (const [id, pool] of this.pools) {
      if (!keep.has(id)) {
        this.pools.delete(id);
        pool.close();
      }
    }
  }

  async close(): Promise<void> {
    for (const pool of this.pools.values()) pool.close();
    this.pools.clear();
  }

  private pool(endpoint: Endpoint): EndpointPool {
    let pool = this.pools.get(endpoint.id);
    if (pool === undefined) {
      pool = new EndpointPool(endpoint, this.settings, (p, state, reason) => this.emit(p.endpoint, state, reason));
      this.pools.set(endpoint.id, pool);
    }
    return pool;
  }

  private emit(endpoint: Endpoint, state: ConnectionState, reason: string): void {
    for (const listener of this.listeners) listener({ endpoint, state, reason });
  }
}
