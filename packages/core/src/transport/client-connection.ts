import { connect, type Socket } from 'node:net';
import { connect as connectTls, type ConnectionOptions } from 'node:tls';
import type { DeadlineEntry, DeadlineTimer } from '../deadline-timer.js';
import { Code, RpcError } from '../errors.js';
import type { InboundResponse, OutboundRequest } from '../transport.js';
import { encodeBareFrame, FrameType, type FrameLimits } from './frame.js';
import { FrameDecoder, type FrameSink } from './frame-decoder.js';
import { decodeResponseHeader, encodeRequestFrame } from './header-codec.js';
import { WriteBatcher } from './write-batcher.js';

export type ClientConnectionState = 'connecting' | 'ready' | 'draining' | 'closed';

export interface ClientConnectionEvents {
  onReady(connection: ClientConnection): void;
  /**
   * GOAWAY received: no new calls may use this connection. `serverStopping` is false when the server
   * only retires this connection (idle) and keeps serving.
   */
  onGoAway(connection: ClientConnection, message: string, serverStopping: boolean): void;
  /** `connected` tells a failed dial from a dropped connection. */
  onClosed(connection: ClientConnection, connected: boolean, reason: string): void;
}

/** One call waiting for its RESPONSE frame; doubles as its own deadline entry (no closure per call). */
class PendingCall implements DeadlineEntry {
  bucket = 0;
  /** False until the frame could have left this process (written after connect). */
  sent: boolean;
  abortListener: (() => void) | undefined;

  constructor(
    readonly connection: ClientConnection,
    readonly streamId: number,
    readonly resolve: (response: InboundResponse) => void,
    readonly reject: (error: RpcError) => void,
    readonly signal: AbortSignal | undefined,
    sent: boolean,
  ) {
    this.sent = sent;
  }

  onDeadline(): void {
    this.connection.expire(this);
  }
}

/**
 * One TCP connection carrying many concurrent calls, matched to responses by stream id. Calls made
 * while connecting are queued in the socket and count as never sent if the dial fails.
 */
export class ClientConnection implements FrameSink {
  state: ClientConnectionState = 'connecting';
  private readonly socket: Socket;
  private readonly batcher: WriteBatcher;
  private readonly decoder: FrameDecoder;
  private readonly pending = new Map<number, PendingCall>();
  private readonly pings = new Map<number, { resolve(rtt: number): void; reject(e: Error): void; at: number; timer: NodeJS.Timeout }>();
  private nextStreamId = 1;
  private nextPingId = 1;
  private connected = false;
  private received = false;
  /** The server retired this connection (idle) but keeps serving. */
  retired = false;
  private closeReason = '';
  private readonly usesTls: boolean;

  constructor(
    readonly label: string,
    host: string,
    port: number,
    limits: FrameLimits,
    private readonly timer: DeadlineTimer,
    private readonly now: () => number,
    private readonly events: ClientConnectionEvents,
    connectTimeoutMs: number,
    tls?: ConnectionOptions,
  ) {
    this.socket = tls
      ? connectTls({ servername: host.match(/^[\d.:]+$/) ? undefined : host, ...tls, host, port })
      : connect({ host, port, noDelay: true });
    if (tls) this.socket.setNoDelay(true);
    this.socket.setTimeout(connectTimeoutMs);
    this.usesTls = tls !== undefined;
    this.batcher = new WriteBatcher(this.socket);
    this.decoder = new FrameDecoder(limits, this);
    this.socket.on(tls ? 'secureConnect' : 'connect', () => {
      this.socket.setTimeout(0);
      this.connected = true;
      for (const call of this.pending.values()) call.sent = true;
      if (this.state === 'connecting') this.state = 'ready';
      this.events.onReady(this);
    });
    this.socket.on('timeout', () => this.destroy(`connect to ${label} timed out after ${connectTimeoutMs} ms`));
    this.socket.on('data', (chunk: Buffer) => {
      this.received = true;
      this.decoder.push(chunk);
    });
    this.socket.on('error', (error: NodeJS.ErrnoException) => {
      const tlsHint = tls && !this.connected ? ` (TLS handshake failed: ${error.message}; check tcp.tls on both sides)` : '';
      this.closeReason ||= this.connected ? `connection to ${label} failed: ${error.message}` : `cannot connect to ${label}: ${error.code ?? error.message}${tlsHint}`;
    });
    this.socket.on('close', () => this.onSocketClosed());
  }

  get inflight(): number {
    return this.pending.size;
  }

  get isConnected(): boolean {
    return this.connected;
  }

  call(request: OutboundRequest): Promise<InboundResponse> {
    return new Promise<InboundResponse>((resolve, reject) => {
      const streamId = this.allocateStreamId();
      const call = new PendingCall(this, streamId, resolve, reject, request.signal, this.connected);
      this.pending.set(streamId, call);
      this.timer.add(call, this.now() + request.timeoutMs);
      const signal = request.signal;
      if (signal !== undefined) {
        call.abortListener = () => this.cancel(call);
        signal.addEventListener('abort', call.abortListener, { once: true });
      }
      this.batcher.write(encodeRequestFrame(streamId, request, request.body));
    });
  }

  ping(timeoutMs: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const id = this.nextPingId++;
      const body = Buffer.allocUnsafe(8);
      body.writeDoubleBE(id, 0);
      const timer = setTimeout(() => {
        this.pings.delete(id);
        reject(new RpcError(Code.DEADLINE_EXCEEDED, `no PONG from ${this.label} within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.pings.set(id, { resolve, reject, at: this.now(), timer });
      this.batcher.write(encodeBareFrame(FrameType.PING, 0, body));
    });
  }

  /** Closes once idle; used for GOAWAY and for endpoints that left the directory. */
  drain(): void {
    if (this.state === 'closed') return;
    this.state = 'draining';
    if (this.pending.size === 0) this.destroy('drained');
  }

  destroy(reason: string): void {
    this.closeReason ||= reason;
    this.socket.destroy();
  }

  expire(call: PendingCall): void {
    if (!this.pending.delete(call.streamId)) return;
    this.detach(call);
    if (call.sent) this.batcher.write(encodeBareFrame(FrameType.CANCEL, call.streamId));
    call.reject(new RpcError(Code.DEADLINE_EXCEEDED, `deadline exceeded waiting for ${this.label}`, { mayHaveRun: call.sent }));
    this.closeIfDrained();
  }

  private cancel(call: PendingCall): void {
    if (!this.pending.delete(call.streamId)) return;
    this.timer.remove(call);
    call.abortListener = undefined;
    if (call.sent) this.batcher.write(encodeBareFrame(FrameType.CANCEL, call.streamId));
    const reason = call.signal?.reason;
    call.reject(new RpcError(Code.CANCELLED, `call cancelled by the caller${reason instanceof Error ? `: ${reason.message}` : ''}`, { mayHaveRun: call.sent }));
    this.closeIfDrained();
  }

  onFrame(type: FrameType, streamId: number, buf: Buffer, headerStart: number, headerEnd: number, bodyEnd: number): void {
    switch (type) {
      case FrameType.RESPONSE:
        return this.onResponse(streamId, buf, headerStart, headerEnd, bodyEnd);
      case FrameType.PONG:
        return this.onPong(buf, headerEnd, bodyEnd);
      case FrameType.PING:
        this.batcher.write(encodeBareFrame(FrameType.PONG, streamId, buf.subarray(headerEnd, bodyEnd)));
        return;
      case FrameType.GOAWAY: {
        let message = 'server is shutting down';
        let stopping = true;
        try {
          const header = decodeResponseHeader(buf, headerStart, headerEnd);
          message = header.message || message;
          stopping = header.code !== Code.OK;
        } catch { /* the GOAWAY itself is what matters */ }
        if (this.state !== 'closed') this.state = 'draining';
        this.retired = !stopping;
        this.events.onGoAway(this, message, stopping);
        this.closeIfDrained();
        return;
      }
      default:
        return this.onProtocolError(`unexpected frame type ${type} from a server`);
    }
  }

  onProtocolError(message: string): void {
    this.decoder.fail();
    this.destroy(`protocol error from ${this.label}: ${message}`);
  }

  private onResponse(streamId: number, buf: Buffer, headerStart: number, headerEnd: number, bodyEnd: number): void {
    const call = this.pending.get(streamId);
    if (call === undefined) return; // expired or cancelled: the late answer is dropped
    this.pending.delete(streamId);
    this.detach(call);
    let header;
    try {
      header = decodeResponseHeader(buf, headerStart, headerEnd);
    } catch (error) {
      call.reject(new RpcError(Code.INTERNAL, `malformed response header from ${this.label}: ${(error as Error).message}`));
      return this.onProtocolError('malformed response header');
    }
    if (header.code === Code.OK) {
      call.resolve({ body: buf.subarray(headerEnd, bodyEnd), metadata: header.metadata });
    } else {
      call.reject(new RpcError(header.code, header.message || Code[header.code] || 'error', {
        mayHaveRun: !header.notExecuted,
        metadata: header.metadata,
      }));
    }
    this.closeIfDrained();
  }

  private onPong(buf: Buffer, headerEnd: number, bodyEnd: number): void {
    if (bodyEnd - headerEnd !== 8) return;
    const id = buf.readDoubleBE(headerEnd);
    const ping = this.pings.get(id);
    if (ping === undefined) return;
    this.pings.delete(id);
    clearTimeout(ping.timer);
    ping.resolve(this.now() - ping.at);
  }

  private detach(call: PendingCall): void {
    this.timer.remove(call);
    if (call.abortListener !== undefined) call.signal!.removeEventListener('abort', call.abortListener);
  }

  private closeIfDrained(): void {
    if (this.state === 'draining' && this.pending.size === 0) this.destroy('drained after GOAWAY');
  }

  private allocateStreamId(): number {
    const id = this.nextStreamId;
    this.nextStreamId = id >= 0x7fffffff ? 1 : id + 1;
    return id;
  }

  private onSocketClosed(): void {
    const wasConnected = this.connected;
    this.state = 'closed';
    this.decoder.fail();
    const hint = wasConnected && !this.received && !this.usesTls && this.pending.size > 0
      ? ' before sending a byte (a TLS-only server? then set tcp.tls on the client)'
      : '';
    const reason = this.closeReason || `connection to ${this.label} closed by the peer${hint}`;
    for (const call of this.pending.values()) {
      this.detach(call);
      call.reject(new RpcError(Code.UNAVAILABLE, reason, { mayHaveRun: call.sent }));
    }
    this.pending.clear();
    for (const ping of this.pings.values()) {
      clearTimeout(ping.timer);
      ping.reject(new RpcError(Code.UNAVAILABLE, reason, { mayHaveRun: false }));
    }
    this.pings.clear();
    this.events.onClosed(this, wasConnected, reason);
  }
}
