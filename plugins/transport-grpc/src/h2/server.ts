import { EventEmitter } from 'node:events';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket, type TlsOptions } from 'node:tls';
import { DEFAULT_WINDOW, MIN_FRAME_SIZE } from './constants.js';
import { H2Connection, type ConnectionLimits } from './connection.js';

/** The native TCP transport's default for the same bound (packages/core, tcp-server-transport.ts). */
const DEFAULT_WRITE_HIGH_WATER_MARK = 1024 * 1024;

/** node:http2's settings object, the part the engine honours. */
export interface H2Settings {
  readonly headerTableSize?: number;
  readonly initialWindowSize?: number;
  readonly maxFrameSize?: number;
  readonly maxConcurrentStreams?: number;
  readonly maxHeaderListSize?: number;
}

export interface H2ServerOptions {
  readonly settings?: H2Settings;
  /** TLS with ALPN `h2` (a client that does not offer h2 is disconnected). Default: h2c prior knowledge. */
  readonly tls?: TlsOptions;
  /** Bytes of unread answers a connection may buffer (default 64 MiB, node's maxSessionMemory). */
  readonly maxOutputBytes?: number;
  /** How long a peer has to acknowledge the server's SETTINGS before GOAWAY SETTINGS_TIMEOUT (default 10 s, as grpc-go; 0 = no limit). */
  readonly settingsTimeoutMs?: number;
  /** Bytes a connection may have written that the kernel has not taken before its streams' DATA waits (default 1 MiB). */
  readonly writeHighWaterMark?: number;
}

/**
 * A server of the HTTP/2 engine on node:net or node:tls: emits 'session' (an H2Connection) per
 * connection and 'stream' (H2Stream, headers) per request, like node:http2's server. A socket
 * accepted elsewhere is handed over with `emit('connection', socket)` (TLS engines do the handshake).
 */
export class H2Server extends EventEmitter {
  private readonly inner: NetServer | TlsServer;
  private readonly limits: ConnectionLimits;

  constructor(options: H2ServerOptions = {}) {
    super();
    const settings = options.settings ?? {};
    this.limits = {
      maxConcurrentStreams: settings.maxConcurrentStreams ?? 1000,
      initialWindowSize: settings.initialWindowSize ?? DEFAULT_WINDOW,
      // One stream's window is what one call may have in flight; the connection's serves them all.
      connectionWindowSize: Math.max(1024 * 1024, settings.initialWindowSize ?? DEFAULT_WINDOW),
      maxFrameSize: settings.maxFrameSize ?? MIN_FRAME_SIZE,
      maxHeaderListSize: settings.maxHeaderListSize ?? 64 * 1024,
      headerTableSize: settings.headerTableSize ?? 4096,
      maxOutputBytes: options.maxOutputBytes ?? 64 * 1024 * 1024,
      maxResetsPerSecond: 1000,
      settingsTimeoutMs: options.settingsTimeoutMs ?? 10_000,
      writeHighWaterMark: options.writeHighWaterMark ?? DEFAULT_WRITE_HIGH_WATER_MARK,
    };
    if (options.tls) {
      const server = createTlsServer({ ...options.tls, ALPNProtocols: ['h2'] });
      server.on('secureConnection', (socket: TLSSocket) => {
        if (socket.alpnProtocol !== 'h2') {
          socket.destroy();
          return;
        }
        this.accept(socket);
      });
      server.on('tlsClientError', (error: Error, socket: TLSSocket) => this.emit('tlsClientError', error, socket));
      this.inner = server;
    } else {
      const server = createNetServer();
      server.on('connection', (socket: Socket) => this.accept(socket));
      this.inner = server;
    }
    this.inner.on('error', (error: Error) => this.emit('error', error));
    // A socket another listener accepted enters where the listener's own would.
    this.on('connection', (socket: Socket) => this.inner.emit('connection', socket));
  }

  listen(port: number, host: string, callback: () => void): this {
    this.inner.listen(port, host, callback);
    return this;
  }

  address(): AddressInfo | string | null {
    return this.inner.address();
  }

  get listening(): boolean {
    return this.inner.listening;
  }

  close(callback?: (error?: Error) => void): this {
    this.inner.close(callback);
    return this;
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    const connection = new H2Connection(socket, this.limits);
    connection.on('stream', (stream, headers) => this.emit('stream', stream, headers));
    this.emit('session', connection);
    if (!connection.destroyed) connection.start();
  }
}
