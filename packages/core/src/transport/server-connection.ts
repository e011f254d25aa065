import type { Socket } from 'node:net';
import { Code, RpcError } from '../errors.js';
import type { Metadata } from '../metadata.js';
import type { PeerInfo, RequestHandler, ServerExchange } from '../transport.js';
import { encodeBareFrame, FrameType, type FrameLimits } from './frame.js';
import { FrameDecoder, type FrameSink } from './frame-decoder.js';
import { createRouteMemo, decodeRequestHeader, encodeResponseFrame } from './header-codec.js';
import { WriteBatcher } from './write-batcher.js';

export interface ServerConnectionOptions {
  readonly limits: FrameLimits;
  /** Requests in flight on one connection before new ones are refused (default 1000). */
  readonly maxConcurrentStreams: number;
  readonly onError: (peer: PeerInfo, message: string) => void;
  /** Close a connection that sends no whole frame within this (slowloris). */
  readonly firstFrameTimeoutMs: number;
  /** Close a connection idle (no traffic, nothing in flight) for this long; 0 = never. */
  readonly idleTimeoutMs: number;
  /** Authenticated identity from the TLS layer. */
  readonly identity: string | undefined;
}

/** One in-flight request; the object the server core answers through. */
class Exchange implements ServerExchange {
  onCancel: ((reason: RpcError) => void) | undefined = undefined;
  finished = false;

  constructor(private readonly connection: ServerConnection, readonly streamId: number) {}

  respond(body: Uint8Array, metadata: Metadata | undefined): void {
    if (this.finished) return;
    this.finished = true;
    this.connection.finish(this, encodeResponseFrame(FrameType.RESPONSE, this.streamId, Code.OK, '', false, metadata, body));
  }

  fail(error: RpcError): void {
    if (this.finished) return;
    this.finished = true;
    this.connection.finish(
      this,
      encodeResponseFrame(FrameType.RESPONSE, this.streamId, error.code, error.message, !error.mayHaveRun, error.metadata as Metadata | undefined, undefined),
    );
  }
}

/**
 * The server side of one connection: decodes frames, hands requests to the server core, answers
 * PING, routes CANCEL, and — after GOAWAY — refuses new requests as "not executed" so the client may
 * safely send them elsewhere. A protocol violation closes this connection only.
 */
export class ServerConnection implements FrameSink {
  private readonly decoder: FrameDecoder;
  private readonly batcher: WriteBatcher;
  private readonly inflight = new Map<number, Exchange>();
  private goingAway: string | undefined;
  readonly peer: PeerInfo;
  private isClosed = false;
  private readonly closeWaiters: (() => void)[] = [];
  private readonly routeMemo = createRouteMemo();
  private firstFrameTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly handler: RequestHandler,
    private readonly options: ServerConnectionOptions,
    private readonly onClose: (connection: ServerConnection) => void,
  ) {
    socket.setNoDelay(true);
    this.peer = { host: socket.remoteAddress ?? 'unknown', port: socket.remotePort ?? 0, identity: options.identity };
    this.firstFrameTimer = setTimeout(
      () => this.onProtocolError(`no complete frame within ${options.firstFrameTimeoutMs} ms (handshakeTimeoutMs)`),
      options.firstFrameTimeoutMs,
    );
    this.firstFrameTimer.unref();
    if (options.idleTimeoutMs > 0) {
      // socket.setTimeout is reset by any traffic: one libuv timer per connection, nothing per call.
      socket.setTimeout(options.idleTimeoutMs, () => {
        if (this.inflight.size === 0) this.retire(`idle for ${options.idleTimeoutMs} ms (idleTimeoutMs)`);
      });
    }
    this.decoder = new FrameDecoder(options.limits, this);
    this.batcher = new WriteBatcher(socket);
    socket.on('data', (chunk: Buffer) => this.decoder.push(chunk));
    socket.on('error', () => { /* 'close' follows; a peer reset is not a server error */ });
    socket.on('close', () => this.onSocketClosed());
  }

  get inflightCount(): number {
    return this.inflight.size;
  }

  onFrame(type: FrameType, streamId: number, buf: Buffer, headerStart: number, headerEnd: number, bodyEnd: number): void {
    if (this.firstFrameTimer !== undefined) {
      clearTimeout(this.firstFrameTimer);
      this.firstFrameTimer = undefined;
    }
    switch (type) {
      case FrameType.REQUEST:
        return this.onRequest(streamId, buf, headerStart, headerEnd, bodyEnd);
      case FrameType.CANCEL: {
        const exchange = this.inflight.get(streamId);
        if (exchange !== undefined) {
          this.inflight.delete(streamId);
          exchange.finished = true;
          exchange.onCancel?.(new RpcError(Code.CANCELLED, 'cancelled by the client'));
        }
        return;
      }
      case FrameType.PING:
        this.batcher.write(encodeBareFrame(FrameType.PONG, streamId, buf.subarray(headerEnd, bodyEnd)));
        return;
      case FrameType.PONG:
        return;
      default:
        return this.onProtocolError(`unexpected frame type ${type} from a client`);
    }
  }

  onProtocolError(message: string): void {
    this.decoder.fail();
    this.options.onError(this.peer, message);
    // Tell a Trellis client why (GOAWAY carries the reason), then close this connection only.
    if (!this.socket.destroyed && !this.socket.writableEnded) {
      this.batcher.write(encodeResponseFrame(FrameType.GOAWAY, 0, Code.INVALID_ARGUMENT, `protocol error: ${message}`, true, undefined, undefined));
      this.batcher.flush();
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 1000).unref();
    }
  }

  /**
   * Retires an idle connection (the server keeps serving): GOAWAY with code OK asks the client to
   * close it; the socket stays writable so a request that crossed the GOAWAY is refused as "not
   * executed" instead of being lost. Destroyed after a grace period if the client does not close.
   */
  private retire(reason: string): void {
    if (this.isClosed || this.goingAway !== undefined) return;
    this.goAway(reason, Code.OK);
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  /** Code UNAVAILABLE: the server is stopping; code OK: only this connection is being retired. */
  goAway(reason: string, code: Code = Code.UNAVAILABLE): void {
    if (this.goingAway !== undefined || this.isClosed) return;
    this.goingAway = reason;
    this.batcher.write(encodeResponseFrame(FrameType.GOAWAY, 0, code, reason, true, undefined, undefined));
  }

  /**
   * Resolves when the connection is closed. After GOAWAY the client closes it once its own pending
   * calls are answered — including requests that crossed the GOAWAY on the wire, which are refused as
   * "not executed". Waiting for in-flight handlers alone would close the socket under those requests.
   */
  closed(): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    return new Promise((resolve) => this.closeWaiters.push(resolve));
  }

  /** Cancels what is still running (grace period over) and closes. */
  destroy(reason: string): void {
    for (const exchange of this.inflight.values()) {
      exchange.onCancel?.(new RpcError(Code.UNAVAILABLE, reason));
      exchange.fail(new RpcError(Code.UNAVAILABLE, reason));
    }
    this.batcher.flush();
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 200).unref();
  }

  finish(exchange: Exchange, frame: Buffer): void {
    if (this.inflight.get(exchange.streamId) !== exchange) return; // cancelled meanwhile
    this.inflight.delete(exchange.streamId);
    this.batcher.write(frame);
  }

  private onRequest(streamId: number, buf: Buffer, headerStart: number, headerEnd: number, bodyEnd: number): void {
    let header;
    try {
      header = decodeRequestHeader(buf, headerStart, headerEnd, this.routeMemo, this.options.limits.maxMetadataEntries);
    } catch (error) {
      return this.onProtocolError(`malformed request header: ${(error as Error).message}`);
    }
    if (this.inflight.has(streamId)) return this.onProtocolError(`stream id ${streamId} reused while in flight`);
    const exchange = new Exchange(this, streamId);
    this.inflight.set(streamId, exchange);
    if (this.goingAway !== undefined) {
      return exchange.fail(new RpcError(Code.UNAVAILABLE, `connection is closing: ${this.goingAway}`, { mayHaveRun: false }));
    }
    if (this.inflight.size > this.options.maxConcurrentStreams) {
      return exchange.fail(new RpcError(
        Code.RESOURCE_EXHAUSTED,
        `too many concurrent requests on one connection (limit ${this.options.maxConcurrentStreams}, maxConcurrentStreams)`,
        { mayHaveRun: false },
      ));
    }
    const request = {
      group: header.group,
      service: header.service,
      version: header.version,
      method: header.method,
      metadata: header.metadata,
      body: buf.subarray(headerEnd, bodyEnd),
      timeoutMs: header.timeoutMs,
      attempt: header.attempt,
      peer: this.peer,
    };
    try {
      this.handler(request, exchange);
    } catch (error) {
      exchange.fail(new RpcError(Code.INTERNAL, `server failed to dispatch the request: ${(error as Error).message}`));
    }
  }

  private onSocketClosed(): void {
    this.isClosed = true;
    if (this.firstFrameTimer !== undefined) clearTimeout(this.firstFrameTimer);
    this.decoder.fail();
    for (const exchange of this.inflight.values()) {
      exchange.finished = true;
      exchange.onCancel?.(new RpcError(Code.CANCELLED, 'client disconnected'));
    }
    this.inflight.clear();
    for (const resolve of this.closeWaiters.splice(0)) resolve();
    this.onClose(this);
  }
}
