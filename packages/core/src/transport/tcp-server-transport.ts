import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket, type TlsOptions } from 'node:tls';
import { invalidOption } from '../errors.js';
import type { Listener, ListenOptions, PeerInfo, RequestHandler, ServerTransport } from '../transport.js';
import { DEFAULT_FRAME_LIMITS, type FrameLimits } from './frame.js';
import { ServerConnection } from './server-connection.js';

export interface TcpServerOptions {
  readonly limits?: Partial<FrameLimits>;
  /** Requests in flight per connection (default 1000). */
  readonly maxConcurrentStreams?: number;
  /** Open connections per server (default 10,000); more are closed on accept. */
  readonly maxConnections?: number;
  /** Called when a peer breaks the protocol (its connection is closed). Default: a warning on stderr. */
  readonly onProtocolError?: (peer: PeerInfo, message: string) => void;
  /**
   * Serve over TLS (node:tls options: key, cert, ca…). With `requestCert: true` and a `ca`, clients must
   * present a certificate signed by it (mutual TLS); its subject CN becomes `peer.identity`.
   */
  readonly tls?: TlsOptions;
  /** A connection must complete its TLS handshake and send a first whole frame within this (default 10 s). */
  readonly handshakeTimeoutMs?: number;
  /** A connection with no traffic and no call in flight for this long is closed (default 5 min; 0 = never). */
  readonly idleTimeoutMs?: number;
}

const HTTP_PROBE = /^(GET|POST|PUT|HEAD|PRI|DELE|OPTI|PATC) /;

/** The default server transport: the Trellis framed protocol over TCP. */
export class TcpServerTransport implements ServerTransport {
  private readonly limits: FrameLimits;
  private readonly maxConcurrentStreams: number;
  private readonly maxConnections: number;
  private readonly onProtocolError: (peer: PeerInfo, message: string) => void;
  private readonly tls: TlsOptions | undefined;
  private readonly handshakeTimeoutMs: number;
  private readonly idleTimeoutMs: number;

  constructor(options: TcpServerOptions = {}) {
    this.limits = { ...DEFAULT_FRAME_LIMITS, ...options.limits };
    if (!(this.limits.maxHeaderSize > 0 && this.limits.maxHeaderSize <= 65535)) {
      throw invalidOption('limits.maxHeaderSize', this.limits.maxHeaderSize, 'an integer in 1..65535');
    }
    if (!(this.limits.maxBodySize > 0)) throw invalidOption('limits.maxBodySize', this.limits.maxBodySize, 'a positive integer');
    this.maxConcurrentStreams = options.maxConcurrentStreams ?? 1000;
    this.maxConnections = options.maxConnections ?? 10_000;
    this.tls = options.tls;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 300_000;
    if (!(this.handshakeTimeoutMs > 0)) throw invalidOption('handshakeTimeoutMs', this.handshakeTimeoutMs, 'a positive number of ms');
    if (!(this.idleTimeoutMs >= 0)) throw invalidOption('idleTimeoutMs', this.idleTimeoutMs, 'a number of ms ≥ 0 (0 = never)');
    this.onProtocolError = options.onProtocolError ??
      ((peer, message) => process.emitWarning(`closed connection from ${peer.host}:${peer.port}: ${message}`, 'TrellisProtocolWarning'));
  }

  listen(options: ListenOptions, handler: RequestHandler): Promise<Listener> {
    const connections = new Set<ServerConnection>();
    let goingAway: string | undefined;
    const accept = (socket: Socket) => {
      if (goingAway !== undefined || connections.size >= this.maxConnections) {
        socket.destroy();
        return;
      }
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
        },
        (c) => connections.delete(c),
      );
      connections.add(connection);
    };
    let server: Server;
    if (this.tls) {
      server = createTlsServer({ ...this.tls, handshakeTimeout: this.handshakeTimeoutMs }, accept);
      server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
        const peer = { host: socket.remoteAddress ?? 'unknown', port: socket.remotePort ?? 0 };
        this.onProtocolError(peer, `TLS handshake failed: ${describeTlsError(error)}`);
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
          goAway(reason: string) {
            if (goingAway !== undefined) return;
            goingAway = reason;
            server.close();
            for (const connection of connections) connection.goAway(reason);
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

/** The authenticated client identity: the certificate subject's CN, else its first SAN entry. */
function peerIdentity(socket: TLSSocket): string | undefined {
  if (!socket.authorized) return undefined;
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return undefined;
  const cn = cert.subject?.CN;
  if (typeof cn === 'string' && cn !== '') return cn;
  return cert.subjectaltname?.split(',')[0]?.trim();
}

function describeTlsError(error: NodeJS.ErrnoException): string {
  if (error.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number|http request/i.test(error.message)) {
    return `${error.message} (the client is not speaking TLS: configure tcp.tls on the client)`;
  }
  return error.code ? `${error.code}: ${error.message}` : error.message;
}
