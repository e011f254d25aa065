import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket, type TlsOptions } from 'node:tls';
import { Code, invalidOption } from '../errors.js';
import type { Listener, ListenOptions, PeerInfo, RequestHandler, ServerTransport } from '../transport.js';
import type { StreamHandler } from '../transport-stream.js';
import { FIXED_HEADER_SIZE, FrameType, MAX_WINDOW, type FrameLimits } from './frame.js';
import { encodeResponseFrame } from './header-codec.js';
import { integerOption, rejectUnknownTcpServerKeys, resolveFrameLimits } from './options.js';
import { ServerPartialFrameBudget } from './partial-frame-budget.js';
import { DEFAULT_MAX_PINGS_PER_SECOND } from './ping-rate-limit.js';
import type { ReceiveRateOptions } from './receive-rate-guard.js';
import {
  DEFAULT_MAX_INFLIGHT_REQUEST_BYTES, DEFAULT_MIN_RECEIVE_RATE, DEFAULT_WRITE_HIGH_WATER_MARK, ServerConnection,
} from './server-connection.js';
import { DEFAULT_MAX_CONCURRENT_STREAMS, DEFAULT_MAX_OPEN_STREAMS, DEFAULT_STREAM_WINDOW, MIN_STREAM_WINDOW } from './settings.js';
import { describeTlsHandshakeError } from './tls-errors.js';
import { rateLimitedWarning } from '../toolkit/rate-limited-warning.js';

export interface TcpServerOptions {
  readonly limits?: Partial<FrameLimits>;
  /** Requests in flight per connection (default 1000); announced to clients, which queue beyond it. */
  readonly maxConcurrentStreams?: number;
  /** Open connections per server (default 10,000); more are closed on accept. */
  readonly maxConnections?: number;
  /** Called when a peer breaks the protocol or abuses a connection (it is closed). Default: a warning on stderr. */
  readonly onProtocolError?: (peer: PeerInfo, message: string) => void;
  /**
   * Serve over TLS (node:tls options: key, cert, ca…). With `requestCert: true` and a `ca`, clients must
   * present a certificate signed by it (mutual TLS); its subject CN becomes `peer.identity`.
   */
  readonly tls?: TlsOptions;
  /** A connection must complete its TLS handshake and send its SETTINGS within this (default 10 s). */
  readonly handshakeTimeoutMs?: number;
  /** A connection with no frame and no call in flight for this long is retired (default 5 min; 0 = never). */
  readonly idleTimeoutMs?: number;
  /** PINGs per second one connection may send; more closes it with GOAWAY RESOURCE_EXHAUSTED (default 100). */
  readonly maxPingsPerSecond?: number;
  /** Bytes per second a started frame must keep arriving at, measured per window (default 16 KiB/s; 0 = off). */
  readonly minReceiveRate?: number;
  /** The window of minReceiveRate (default 5000 ms). */
  readonly receiveRateWindowMs?: number;
  /** Bytes of partially received frames the whole server holds at most (default 64 MiB, at least two largest frames). */
  readonly maxPartialFrameBytes?: number;
  /** Outgoing bytes a connection may have pending before it stops reading requests (default 1 MiB). */
  readonly writeHighWaterMark?: number;
  /** Bytes of requests whose handlers still run, per connection, before it stops reading more (default 16 MiB). */
  readonly maxInflightRequestBytes?: number;
  /** Streams open at once per connection (default 1000); announced, and more are refused RESOURCE_EXHAUSTED (never ran). */
  readonly maxOpenStreams?: number;
  /**
   * Bytes of stream messages a client may send on one stream before the handler takes some (receive
   * credit, default 64 KiB; 1,024..2^31-1). A connection buffers at most maxOpenStreams × streamWindow.
   */
  readonly streamWindow?: number;
}

const HTTP_PROBE = /^(GET|POST|PUT|HEAD|PRI|DELE|OPTI|PATC) /;

/** The default server transport: the Trellis framed protocol over TCP. */
export class TcpServerTransport implements ServerTransport {
  private readonly limits: FrameLimits;
  private readonly maxConcurrentStreams: number;
  private readonly maxConnections: number;
  private readonly onProtocolError: (peer: PeerInfo, message: string) => void;
  private readonly tls: TlsOptions | undefined;
  /** Mutual TLS with rejection: checked after the handshake, so the client can be told why. */
  private readonly requireClientCertificate: boolean;
  private readonly handshakeTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly maxPingsPerSecond: number;
  private readonly minReceiveRate: ReceiveRateOptions;
  private readonly maxPartialFrameBytes: number;
  private readonly writeHighWaterMark: number;
  private readonly maxInflightRequestBytes: number;
  private readonly maxOpenStreams: number;
  private readonly streamWindow: number;

  constructor(options: TcpServerOptions = {}) {
    rejectUnknownTcpServerKeys(options);
    this.limits = resolveFrameLimits(options.limits);
    this.maxConcurrentStreams = integerOption('maxConcurrentStreams', options.maxConcurrentStreams, 1, 0x7fffffff, DEFAULT_MAX_CONCURRENT_STREAMS);
    this.maxConnections = integerOption('maxConnections', options.maxConnections, 1, 10_000_000, 10_000);
    this.tls = options.tls;
    this.requireClientCertificate = options.tls?.requestCert === true && options.tls.rejectUnauthorized !== false;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 300_000;
    if (!(this.handshakeTimeoutMs > 0)) throw invalidOption('handshakeTimeoutMs', this.handshakeTimeoutMs, 'a positive number of ms');
    if (!(this.idleTimeoutMs >= 0)) throw invalidOption('idleTimeoutMs', this.idleTimeoutMs, 'a number of ms ≥ 0 (0 = never)');
    this.maxPingsPerSecond = integerOption('maxPingsPerSecond', options.maxPingsPerSecond, 1, 1_000_000, DEFAULT_MAX_PINGS_PER_SECOND);
    this.minReceiveRate = {
      minBytesPerSecond: integerOption('minReceiveRate', options.minReceiveRate, 0, 0xffffffff, DEFAULT_MIN_RECEIVE_RATE.minBytesPerSecond),
      windowMs: integerOption('receiveRateWindowMs', options.receiveRateWindowMs, 10, 3_600_000, DEFAULT_MIN_RECEIVE_RATE.windowMs),
    };
    const largestFrame = FIXED_HEADER_SIZE + this.limits.maxHeaderSize + this.limits.maxBodySize;
    this.maxPartialFrameBytes = integerOption('maxPartialFrameBytes', options.maxPartialFrameBytes, largestFrame, Number.MAX_SAFE_INTEGER,
      Math.max(64 * 1024 * 1024, 2 * largestFrame));
    this.writeHighWaterMark = integerOption('writeHighWaterMark', options.writeHighWaterMark, 16 * 1024, Number.MAX_SAFE_INTEGER, DEFAULT_WRITE_HIGH_WATER_MARK);
    this.maxInflightRequestBytes = integerOption('maxInflightRequestBytes', options.maxInflightRequestBytes, 1, Number.MAX_SAFE_INTEGER, DEFAULT_MAX_INFLIGHT_REQUEST_BYTES);
    this.maxOpenStreams = integerOption('maxOpenStreams', options.maxOpenStreams, 1, 0x7fffffff, DEFAULT_MAX_OPEN_STREAMS);
    this.streamWindow = integerOption('streamWindow', options.streamWindow, MIN_STREAM_WINDOW, MAX_WINDOW, DEFAULT_STREAM_WINDOW);
    this.onProtocolError = options.onProtocolError ?? connectionWarning();
  }

  listen(options: ListenOptions, handler: RequestHandler, streams?: StreamHandler): Promise<Listener> {
    const connections = new Set<ServerConnection>();
    const partialFrameBudget = new ServerPartialFrameBudget(this.maxPartialFrameBytes);
    let goingAway: string | undefined;
    const accept = (socket: Socket) => {
      if (goingAway !== undefined || connections.size >= this.maxConnections) {
        socket.destroy();
        return;
      }
      if (this.tls && this.requireClientCertificate && !(socket as TLSSocket).authorized) return this.refuseCertificate(socket as TLSSocket);
      if (!this.tls) this.sniffHttp(socket);
      const connection = new ServerConnection(
        socket,
        handler,
        {
          limits: this.limits,
          maxConcurrentStreams: this.maxConcurrentStreams,
          onError: this.onProtocolError,
          firstFrameTimeoutMs: this.handshakeTimeoutMs,
          idleTimeoutMs: this.idleTimeoutMs,
          identity: this.tls ? peerIdentity(socket as TLSSocket) : undefined,
          maxPingsPerSecond: this.maxPingsPerSecond,
          minReceiveRate: this.minReceiveRate,
          writeHighWaterMark: this.writeHighWaterMark,
          maxInflightRequestBytes: this.maxInflightRequestBytes,
          partialFrameBudget,
          streams,
          maxOpenStreams: this.maxOpenStreams,
          streamWindow: this.streamWindow,
        },
        (c) => connections.delete(c),
      );
      connections.add(connection);
    };
    let server: Server;
    if (this.tls) {
      // Client certificates are checked after the handshake (below), not by OpenSSL during it: a
      // refused client then gets a GOAWAY saying so instead of a bare reset.
      const tls = this.requireClientCertificate ? { ...this.tls, rejectUnauthorized: false } : this.tls;
      server = createTlsServer({ ...tls, handshakeTimeout: this.handshakeTimeoutMs }, accept);
      server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
        const peer = { host: socket.remoteAddress ?? 'unknown', port: socket.remotePort ?? 0 };
        this.onProtocolError(peer, `TLS handshake failed: ${describeTlsHandshakeError(error)}`);
        socket.destroy();
      });
    } else {
      server = createServer(accept);
    }
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        server.on('error', () => { /* accept errors (EMFILE) must not crash the process */ });
        const address = server.address();
        const port = typeof address === 'object' && address ? address.port : options.port;
        const listener: Listener = {
          host: options.host,
          port,
          get connectionCount() {
            return connections.size;
          },
          get inflightCount() {
            let count = 0;
            for (const connection of connections) count += connection.inflightCount + connection.openStreamCount;
            return count;
          },
          goAway(reason: string) {
            if (goingAway !== undefined) return;
            goingAway = reason;
            server.close();
            for (const connection of connections) connection.goAway(reason);
          },
          handOver(reason: string) {
            if (goingAway !== undefined) return;
            goingAway = reason;
            server.close();
            for (const connection of connections) connection.handOver(reason);
          },
          drained() {
            return Promise.all([...connections].map((c) => c.closed())).then(() => undefined);
          },
          async close() {
            if (goingAway === undefined) listener.goAway('server closed');
            for (const connection of connections) connection.destroy('server closed before the call finished');
            await new Promise<void>((done) => (server.listening ? server.close(() => done()) : done()));
          },
        };
        resolve(listener);
      });
    });
  }

  /**
   * A client whose certificate the server does not accept: logged with its address and the reason,
   * and told so in a GOAWAY (its calls were never written, so they fail as not executed).
   */
  private refuseCertificate(socket: TLSSocket): void {
    const peer = { host: socket.remoteAddress ?? 'unknown', port: socket.remotePort ?? 0 };
    const presented = Object.keys(socket.getPeerCertificate() ?? {}).length > 0;
    const why = presented
      ? `its certificate is not accepted (${String(socket.authorizationError)})`
      : 'it presented no certificate and mutual TLS requires one';
    this.onProtocolError(peer, `TLS handshake failed: client refused, ${why}`);
    socket.on('error', () => { /* the client may reset first */ });
    socket.end(encodeResponseFrame(FrameType.GOAWAY, 0, Code.UNAUTHENTICATED, `certificate not accepted by the server: ${why}`, true, undefined, undefined));
    setTimeout(() => socket.destroy(), 1000).unref();
  }

  /** A browser or curl pointed at an RPC port gets a readable answer instead of silence. */
  private sniffHttp(socket: Socket): void {
    socket.once('data', (chunk: Buffer) => {
      if (HTTP_PROBE.test(chunk.toString('latin1', 0, 5))) {
        socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n' +
          'This port speaks the Trellis RPC protocol, not HTTP.\n');
      }
    });
  }
}

/**
 * The default report of closed connections: a process warning, at most 10 per 10 s — under attack,
 * one line per refused connection would flood the log (the rest are counted in the next line).
 */
function connectionWarning(): (peer: PeerInfo, message: string) => void {
  const warn = rateLimitedWarning('TrellisProtocolWarning', 'connections were closed');
  return (peer, message) => warn(`closed connection from ${peer.host}:${peer.port}: ${message}`);
}

/** The authenticated client identity: the certificate subject's CN, else its first SAN entry. */
function peerIdentity(socket: TLSSocket): string | undefined {
  if (!socket.authorized) return undefined;
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return undefined;
  const cn = cert.subject?.CN;
  if (typeof cn === 'string' && cn !== '') return cn;
  return cert.subjectaltname?.split(',')[0]?.trim();
}
