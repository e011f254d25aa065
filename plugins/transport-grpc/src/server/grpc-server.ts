import { constants, createSecureServer, createServer, type SecureServerOptions, type Settings } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { Code, invalidOption } from '@trellis/core';
import { rateLimitedWarning } from '@trellis/core/toolkit';
import { DeadlineTimer, type DeadlineEntry, type PeerInfo } from '@trellis/core/spi';
import { ACCEPT_ENCODING, isEncoding, type Encoding } from '../wire/compression.js';
import { H2Server } from '../h2/server.js';
import { encodeGrpcMessage } from '../wire/status.js';
import { parseGrpcTimeout } from '../wire/timeout.js';
import type { EngineHeaders, EngineSession, EngineStream } from './engine.js';
import type { GrpcRouter } from './handler.js';
import { PingPolicy } from './keepalive-policy.js';
import { ServerCall, type CallContext } from './server-call.js';
import { checkGrpcServerOptions } from './server-options.js';

export interface GrpcServerOptions {
  /** Serve TLS with ALPN `h2` (node:tls options: key, cert, ca, requestCert…). Default: cleartext h2c. */
  readonly tls?: SecureServerOptions;
  /** Largest request message accepted, compressed or not (default 4 MiB); larger → RESOURCE_EXHAUSTED. */
  readonly maxReceiveMessageSize?: number;
  /** Largest response message a handler may send (default Infinity). */
  readonly maxSendMessageSize?: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS announced to clients (default 1000). */
  readonly maxConcurrentStreams?: number;
  /** Open connections accepted; more are closed at once (default 10,000). */
  readonly maxConnections?: number;
  /** Buffered, unread request bytes per streaming call above which its stream is paused (default 256 KiB). */
  readonly receiveHighWaterBytes?: number;
  /** Pings closer together than this with no call or message in between are strikes (default 5000 ms). */
  readonly minPingIntervalMs?: number;
  /** Strikes tolerated before GOAWAY ENHANCE_YOUR_CALM "too_many_pings" (default 2). */
  readonly maxPingStrikes?: number;
  /** A connection with no open call for this long is closed with GOAWAY (default 0 = never). */
  readonly idleTimeoutMs?: number;
  /**
   * Every this many ms the server PINGs each connection; one that has not answered the previous PING
   * by the next round is closed (gRPC's server keepalive time and timeout in one; default 30,000;
   * 0 = never). It reaps connections that can no longer talk — among them those nghttp2 ended with a
   * GOAWAY for a protocol error, which node leaves open (no event) until the process ends.
   */
  readonly keepaliveTimeMs?: number;
  /**
   * How long a client has to acknowledge the server's SETTINGS before its connection is closed with
   * GOAWAY SETTINGS_TIMEOUT (RFC 9113 §6.5.3; default 10,000 ms, as grpc-go; 0 = no limit). The
   * 'trellis' engine only: nghttp2 has no such timer.
   */
  readonly settingsTimeoutMs?: number;
  /**
   * Bytes a connection may have written that the kernel has not taken yet (default 1 MiB, ≥ 16 KiB),
   * above which no more response DATA is written on it: `send()` waits until the socket drains, so a
   * client that opens wide windows and stops reading costs the server this much, not what handlers
   * write. The 'trellis' engine only (node:http2 keeps nghttp2's own queues).
   */
  readonly writeHighWaterMark?: number;
  /** Extra HTTP/2 settings sent to clients (initialWindowSize, maxFrameSize…). */
  readonly settings?: Settings;
  /** Where protocol problems and handler contract breaches are reported. Default: a process warning. */
  readonly onError?: (message: string, peer?: PeerInfo) => void;
  /**
   * The HTTP/2 engine under the gRPC layer: 'trellis' (default), the engine written for gRPC in
   * src/h2 over node:net / node:tls, or 'node:http2' (nghttp2). Both pass the same tests; the first
   * costs less CPU per call (README, "The HTTP/2 engine").
   */
  readonly engine?: 'trellis' | 'node:http2';
}

/** What GrpcServer needs of an engine's listener (H2Server and node:http2's server both have it). */
interface EngineServer {
  readonly listening: boolean;
  listen(port: number, host: string, callback: () => void): unknown;
  address(): AddressInfo | string | null;
  close(callback?: () => void): unknown;
  on(event: string, listener: (...args: never[]) => void): unknown;
  once(event: string, listener: (...args: never[]) => void): unknown;
  off(event: string, listener: (...args: never[]) => void): unknown;
  emit(event: string, ...args: unknown[]): boolean;
}

/** Where the engine listens. */
export interface GrpcAddress {
  readonly host: string;
  readonly port: number;
}

type Session = EngineSession & { trellisPolicy?: PingPolicy; trellisCalls?: number; trellisPingUnanswered?: boolean };

// node's `sendDate` option (read by respond(), set by its own compat layer): gRPC needs no `date` header.
const TRAILERS_ONLY = Object.freeze({ endStream: true, sendDate: false });

/** A stream error is followed by 'close', where the call settles; the listener only keeps it from throwing. */
function ignoreStreamError(): void {}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!(typeof value === 'number' && value > 0)) throw invalidOption(name, value, 'a positive number');
  return value;
}

/**
 * The gRPC server engine on node:http2: h2c with prior knowledge or TLS with ALPN h2, on its own
 * port (`listen`) or on sockets another listener accepted (`handleConnection`, for a port that
 * detects the protocol). Every call is handed to the router's handler at the bytes level.
 */
export class GrpcServer {
  private readonly http2: EngineServer;
  private readonly sessions = new Set<Session>();
  private readonly calls = new Set<ServerCall>();
  private readonly timer = new DeadlineTimer(() => performance.now());
  private readonly context: CallContext;
  private readonly minPingIntervalMs: number;
  private readonly maxPingStrikes: number;
  private readonly maxConnections: number;
  private readonly idleTimeoutMs: number;
  private readonly keepaliveTimeMs: number;
  private livenessTimer: NodeJS.Timeout | undefined;
  private readonly report: (message: string, peer?: PeerInfo) => void;
  private listening: GrpcAddress | undefined;
  private goingAway = false;
  private drainWaiters: (() => void)[] = [];

  constructor(private readonly router: GrpcRouter, private readonly options: GrpcServerOptions = {}) {
    checkGrpcServerOptions(options);
    if (!router || typeof router.lookup !== 'function') throw invalidOption('router', router, 'a GrpcRouter (an object with lookup(path))');
    this.minPingIntervalMs = options.minPingIntervalMs ?? 5000;
    if (!(this.minPingIntervalMs >= 0)) throw invalidOption('minPingIntervalMs', options.minPingIntervalMs, 'a number of ms ≥ 0');
    this.maxPingStrikes = options.maxPingStrikes ?? 2;
    if (!(Number.isInteger(this.maxPingStrikes) && this.maxPingStrikes >= 0)) throw invalidOption('maxPingStrikes', options.maxPingStrikes, 'an integer ≥ 0');
    this.maxConnections = positive('maxConnections', options.maxConnections, 10_000);
    this.idleTimeoutMs = options.idleTimeoutMs ?? 0;
    if (!(this.idleTimeoutMs >= 0)) throw invalidOption('idleTimeoutMs', options.idleTimeoutMs, 'a number of ms ≥ 0 (0 = never)');
    this.keepaliveTimeMs = options.keepaliveTimeMs ?? 30_000;
    if (!(this.keepaliveTimeMs >= 0)) throw invalidOption('keepaliveTimeMs', options.keepaliveTimeMs, 'a number of ms ≥ 0 (0 = never)');
    const settingsTimeoutMs = options.settingsTimeoutMs ?? 10_000;
    if (!(settingsTimeoutMs >= 0 && Number.isFinite(settingsTimeoutMs))) throw invalidOption('settingsTimeoutMs', options.settingsTimeoutMs, 'a number of ms ≥ 0 (0 = no limit)');
    const writeHighWaterMark = options.writeHighWaterMark; // checked by checkGrpcServerOptions (an integer ≥ 16 KiB)
    this.report = options.onError ?? grpcWarning();
    const maxReceive = positive('maxReceiveMessageSize', options.maxReceiveMessageSize, 4 * 1024 * 1024);
    const maxSend = positive('maxSendMessageSize', options.maxSendMessageSize, Infinity);
    const highWater = positive('receiveHighWaterBytes', options.receiveHighWaterBytes, 256 * 1024);
    const maxConcurrentStreams = positive('maxConcurrentStreams', options.maxConcurrentStreams, 1000);
    this.context = {
      maxReceiveMessageSize: maxReceive,
      maxSendMessageSize: maxSend,
      receiveHighWaterBytes: highWater,
      addDeadline: (entry: DeadlineEntry, deadline: number) => this.timer.add(entry, deadline),
      removeDeadline: (entry: DeadlineEntry) => this.timer.remove(entry),
      peerOf: (session) => this.peerOfSession(session as EngineSession),
      callEnded: (call) => this.callEnded(call),
      reportHandlerError: (call, message) => this.report(`gRPC ${call.path}: ${message}`, call.peer),
    };
    const http2Options = {
      settings: { maxConcurrentStreams, ...options.settings },
      // A client that reads no responses cannot make the server buffer without bound.
      maxSessionMemory: 64,
    };
    const engine = options.engine ?? 'trellis';
    if (engine !== 'trellis' && engine !== 'node:http2') throw invalidOption('engine', engine, "'trellis' or 'node:http2'");
    if (engine === 'trellis') {
      this.http2 = new H2Server({ settings: http2Options.settings, tls: options.tls, maxOutputBytes: 64 * 1024 * 1024, settingsTimeoutMs, writeHighWaterMark }) as unknown as EngineServer;
      if (options.tls) {
        this.http2.on('tlsClientError', (error: Error, socket: TLSSocket) => {
          this.report(`TLS handshake failed: ${error.message}`, { host: socket.remoteAddress ?? 'unknown', port: socket.remotePort ?? 0 });
          socket.destroy();
        });
      }
    } else if (options.tls) {
      this.http2 = createSecureServer({ ...options.tls, ...http2Options, ALPNProtocols: ['h2'], allowHTTP1: false }) as unknown as EngineServer;
      this.http2.on('tlsClientError', (error: Error, socket: TLSSocket) => {
        this.report(`TLS handshake failed: ${error.message}`, { host: socket.remoteAddress ?? 'unknown', port: socket.remotePort ?? 0 });
        socket.destroy();
      });
    } else {
      this.http2 = createServer(http2Options) as unknown as EngineServer;
    }
    this.http2.on('session', this.onSession);
    this.http2.on('stream', this.onStream);
    // An accept error (EMFILE) or a broken client must never crash the process.
    this.http2.on('error', (error: Error) => this.report(`gRPC listener error: ${error.message}`));
    this.http2.on('sessionError', () => undefined);
  }

  /** Binds a port (0 = any free port). */
  listen(address: { host?: string; port?: number } = {}): Promise<GrpcAddress> {
    const host = address.host ?? '0.0.0.0';
    return new Promise((resolve, reject) => {
      const server = this.http2;
      server.once('error', reject);
      server.listen(address.port ?? 0, host, () => {
        server.off('error', reject);
        const bound = server.address();
        this.listening = { host, port: typeof bound === 'object' && bound ? bound.port : address.port ?? 0 };
        resolve(this.listening);
      });
    });
  }

  /**
   * Serves gRPC on a connection another listener accepted — e.g. a native Trellis port that saw the
   * HTTP/2 preface. Bytes already read from the socket must be put back first (`socket.unshift`).
   * For a TLS engine, hand over the raw TCP socket: the engine does the handshake (ALPN h2).
   */
  handleConnection(socket: Duplex): void {
    if (this.goingAway) {
      socket.destroy();
      return;
    }
    this.http2.emit('connection', socket);
  }

  get address(): GrpcAddress | undefined {
    return this.listening;
  }

  get connectionCount(): number {
    return this.sessions.size;
  }

  /** Calls in progress. */
  get activeCalls(): number {
    return this.calls.size;
  }

  /**
   * Graceful stop, first half: stop accepting connections and send GOAWAY on every open one. Calls
   * in progress go on; new streams are refused (REFUSED_STREAM: clients retry them elsewhere).
   */
  goAway(): void {
    if (this.goingAway) return;
    this.goingAway = true;
    if (this.http2.listening) this.http2.close();
    for (const session of this.sessions) this.closeSession(session);
  }

  /** After goAway(): resolves when no call is left (each connection then closes). */
  drained(): Promise<void> {
    if (this.calls.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /**
   * Graceful stop: GOAWAY, wait up to `graceMs` for calls in progress, then end what is left with
   * UNAVAILABLE and close every connection.
   */
  async close(graceMs = 10_000): Promise<void> {
    this.goAway();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.drained(), new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    for (const call of [...this.calls]) call.terminate(Code.UNAVAILABLE, 'the server is shutting down');
    const closing = [...this.sessions].map((session) => new Promise<void>((resolve) => {
      // `closed` turns true at close(), before the 'close' event: wait for the event itself.
      session.once('close', () => resolve());
      if (!session.closed) this.closeSession(session);
      // Trailers just written need a moment to leave; a session that does not close is destroyed.
      setTimeout(() => session.destroy(), Math.min(1000, graceMs)).unref();
    }));
    await Promise.all(closing);
    clearInterval(this.livenessTimer);
    this.livenessTimer = undefined;
    if (this.http2.listening) await new Promise<void>((resolve) => this.http2.close(() => resolve()));
  }

  private readonly onSession = (session: Session): void => {
    if (this.goingAway || this.sessions.size >= this.maxConnections) {
      session.destroy();
      return;
    }
    this.sessions.add(session);
    session.trellisCalls = 0;
    if (this.keepaliveTimeMs > 0 && this.livenessTimer === undefined) {
      this.livenessTimer = setInterval(this.checkLiveness, this.keepaliveTimeMs).unref();
    }
    const policy = new PingPolicy(this.minPingIntervalMs, this.maxPingStrikes);
    session.trellisPolicy = policy;
    // A session error (nghttp2 answered a protocol error with GOAWAY, a broken socket) leaves node's
    // session open, and its socket in CLOSE-WAIT once the peer hangs up, counted against
    // maxConnections until the process ends: end it here. The same when the peer half-closes.
    session.on('error', () => session.destroy());
    session.on('frameError', () => undefined);
    // The engine answered a protocol error (GOAWAY or RST_STREAM) and goes on; it is only reported.
    session.on('protocolError', (reason: string) => this.report(`HTTP/2 protocol error: ${reason}`, this.peerOfSession(session)));
    session.socket.once('end', () => session.destroy());
    session.on('ping', () => {
      if (policy.onPing(performance.now())) {
        this.report('closed a connection that sent too many pings', this.peerOfSession(session));
        try {
          session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM, 0, Buffer.from('too_many_pings'));
        } catch { /* already closing */ }
        session.destroy();
      }
    });
    session.once('close', () => this.sessions.delete(session));
    if (this.idleTimeoutMs > 0) {
      session.setTimeout(this.idleTimeoutMs, () => {
        if ((session.trellisCalls ?? 0) === 0) this.closeSession(session);
      });
    }
  };

  private readonly onStream = (stream: EngineStream, headers: EngineHeaders): void => {
    stream.on('error', ignoreStreamError);
    const session = stream.session as Session | undefined;
    if (session === undefined) return;
    session.trellisPolicy?.activity();
    if (headers[':method'] !== 'POST') return this.refuseHttp(stream, 405, 'gRPC calls use POST');
    const contentType = headers['content-type'];
    if (typeof contentType !== 'string' || !contentType.startsWith('application/grpc')) {
      return this.refuseHttp(stream, 415, `content-type ${JSON.stringify(contentType ?? '')} is not application/grpc`);
    }
    const path = headers[':path'];
    if (typeof path !== 'string' || path.charCodeAt(0) !== 0x2f || path.indexOf('/', 1) < 2) {
      return this.trailersOnly(stream, Code.UNIMPLEMENTED, `malformed method path ${JSON.stringify(path)}`);
    }
    const handler = this.router.lookup(path);
    if (handler === undefined) return this.trailersOnly(stream, Code.UNIMPLEMENTED, `method ${path} is not implemented by this server`);
    let encoding: Encoding = 'identity';
    const requested = headers['grpc-encoding'];
    if (requested !== undefined) {
      const name = typeof requested === 'string' ? requested : requested[0]!;
      if (!isEncoding(name)) {
        return this.trailersOnly(stream, Code.UNIMPLEMENTED, `message encoding "${name}" is not supported (supported: ${ACCEPT_ENCODING})`);
      }
      encoding = name;
    }
    let timeoutMs = 0;
    const timeout = headers['grpc-timeout'];
    if (timeout !== undefined) {
      const parsed = parseGrpcTimeout(typeof timeout === 'string' ? timeout : timeout[0]!);
      if (parsed === undefined) return this.trailersOnly(stream, Code.INTERNAL, `malformed grpc-timeout ${JSON.stringify(timeout)}`);
      // A zero timeout is already expired; keep a positive value so the deadline fires at once.
      timeoutMs = Math.max(parsed, 0.001);
    }
    const call = new ServerCall(this.context, stream, headers, path, handler, encoding, timeoutMs);
    this.calls.add(call);
    session.trellisCalls = (session.trellisCalls ?? 0) + 1;
    call.session = session;
    call.start();
  };

  private callEnded(call: ServerCall): void {
    if (!this.calls.delete(call)) return;
    const session = call.session as Session | undefined;
    if (session !== undefined) {
      session.trellisCalls = (session.trellisCalls ?? 1) - 1;
      session.trellisPolicy?.activity();
    }
    if (this.calls.size === 0 && this.drainWaiters.length > 0) for (const resolve of this.drainWaiters.splice(0)) resolve();
  }

  /** A Trailers-Only response: the status in the one HEADERS frame, no message. */
  private trailersOnly(stream: EngineStream, code: Code, message: string): void {
    if (stream.destroyed || stream.closed) return;
    try {
      stream.respond({
        ':status': '200', 'content-type': 'application/grpc', 'grpc-accept-encoding': ACCEPT_ENCODING,
        'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(message),
      }, TRAILERS_ONLY);
    } catch { /* reset by the client meanwhile */ }
    stream.resume();
  }

  private refuseHttp(stream: EngineStream, status: number, message: string): void {
    if (stream.destroyed || stream.closed) return;
    try {
      stream.respond({ ':status': String(status), 'content-type': 'text/plain; charset=utf-8' });
      stream.end(Buffer.from(`${message}\n`));
    } catch { /* reset by the client meanwhile */ }
    stream.resume();
  }

  /** One keepalive round: a connection that left the last PING unanswered is gone; the others get a new one. */
  private readonly checkLiveness = (): void => {
    for (const session of this.sessions) {
      if (session.destroyed) continue;
      if (session.trellisPingUnanswered) {
        this.report(`closed a connection that did not answer a keepalive PING within ${this.keepaliveTimeMs} ms`, this.peerOfSession(session));
        // At once, with what is still queued for it: a peer that stopped reading would otherwise keep
        // those bytes in this process after the connection left the count maxConnections bounds.
        session.destroy(undefined, constants.NGHTTP2_NO_ERROR);
        continue;
      }
      try {
        session.trellisPingUnanswered = session.ping((error) => {
          if (error === null) session.trellisPingUnanswered = false;
        });
      } catch { /* closing already */ }
    }
    if (this.sessions.size === 0) {
      clearInterval(this.livenessTimer);
      this.livenessTimer = undefined;
    }
  };

  private closeSession(session: Session): void {
    if (session.closed || session.destroyed) return;
    try {
      // Graceful: GOAWAY with the last stream id; open streams finish, new ones are refused.
      session.close();
    } catch {
      session.destroy();
    }
  }

  private peerOfSession(session: EngineSession): PeerInfo {
    const socket = session.socket as (TLSSocket & { authorized?: boolean }) | undefined;
    const peer: { host: string; port: number; identity?: string } = { host: socket?.remoteAddress ?? 'unknown', port: socket?.remotePort ?? 0 };
    if (this.options.tls && socket?.authorized && typeof socket.getPeerCertificate === 'function') {
      const cert = socket.getPeerCertificate();
      const cn = cert?.subject?.CN;
      if (typeof cn === 'string' && cn !== '') peer.identity = cn;
    }
    return peer;
  }
}

/**
 * The default report: a process warning, at most 10 per 10 s (the rest counted in the next line).
 * One line per broken connection would let a peer that opens thousands of them (half-open, junk,
 * never acknowledging SETTINGS) write the log's size; the TCP listener reports the same way.
 */
function grpcWarning(): (message: string, peer?: PeerInfo) => void {
  const warn = rateLimitedWarning('TrellisGrpcWarning', 'gRPC listener problems');
  return (message, peer) => warn(peer ? `${message} (peer ${peer.host}:${peer.port})` : message);
}
