import { Code, RpcError } from '../errors.js';
import type { Metadata } from '../metadata.js';
import type { PeerInfo } from '../transport.js';
import type { InboundStream, MessageWriter, ServerStreamExchange, StreamKind } from '../transport-stream.js';
import type { RequestHeader } from './header-codec.js';
import { StreamInbox, type InboxOwner } from './stream-inbox.js';
import { StreamSender, type SenderOwner } from './stream-sender.js';

/** What a server stream needs from its connection. */
export interface ServerStreamHost {
  readonly writePressure: boolean;
  /** The client's maxBodySize: larger messages are refused at send(). */
  readonly clientMaxBodySize: number;
  writeMessage(stream: TcpServerStream, body: Uint8Array): void;
  /** One message of `length` bytes, encoded by `encoder` straight into the write batch. */
  writeEncoded(stream: TcpServerStream, length: number, encoder: MessageWriter, message: unknown): void;
  writeHeaders(stream: TcpServerStream, metadata: Metadata | undefined): void;
  /** Writes STREAM_TRAILERS (flagged "not executed" when `notExecuted`) and forgets the stream. */
  writeStatus(stream: TcpServerStream, code: number, message: string, notExecuted: boolean, metadata: Metadata | undefined): void;
  writeWindowUpdate(stream: TcpServerStream, increment: number): void;
  waitWritable(sender: StreamSender): void;
}

/**
 * One inbound stream on the server side of the native transport: both what the handler is told
 * (InboundStream) and what it answers through (ServerStreamExchange), one object per stream.
 * The AbortController is made only when someone reads `signal` (an idle stream stays small).
 */
export class TcpServerStream implements InboundStream, ServerStreamExchange, InboxOwner, SenderOwner {
  readonly group: string;
  readonly service: string;
  readonly version: string;
  readonly method: string;
  readonly metadata: Metadata;
  readonly timeoutMs: number;
  readonly attempt: number;
  readonly requests: StreamInbox;
  private readonly sender: StreamSender;
  /** The client half-closed (no more messages may come). */
  halfClosed = false;
  /** Trailers were written (or the stream was dropped): nothing more goes out. */
  finished = false;
  private headersSent = false;
  private controller: AbortController | undefined;
  private abortReason: RpcError | undefined;
  private trailers: Metadata | undefined;

  constructor(
    private readonly host: ServerStreamHost,
    readonly streamId: number,
    header: RequestHeader,
    readonly kind: StreamKind,
    readonly peer: PeerInfo,
    receiveWindow: number,
    sendWindow: number,
  ) {
    this.group = header.group;
    this.service = header.service;
    this.version = header.version;
    this.method = header.method;
    this.metadata = header.metadata;
    this.timeoutMs = header.timeoutMs;
    this.attempt = header.attempt;
    this.requests = new StreamInbox(receiveWindow, this);
    this.sender = new StreamSender(sendWindow, this);
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortReason !== undefined) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  sendHeaders(metadata: Metadata | undefined): void {
    if (this.headersSent || this.finished) return;
    this.headersSent = true;
    this.host.writeHeaders(this, metadata);
  }

  send(body: Uint8Array): Promise<void> | undefined {
    this.checkSend(body.length);
    return this.sender.send(body);
  }

  sendEncoded(length: number, encoder: MessageWriter, message: unknown): Promise<void> | undefined {
    this.checkSend(length);
    return this.sender.sendEncoded(length, encoder, message);
  }

  private checkSend(length: number): void {
    if (this.finished) throw this.sender.failed ?? new RpcError(Code.FAILED_PRECONDITION, 'send() after the stream ended');
    if (this.sender.ending) throw new RpcError(Code.FAILED_PRECONDITION, 'send() after end()');
    if (length > this.host.clientMaxBodySize) {
      throw new RpcError(Code.RESOURCE_EXHAUSTED, `stream message of ${length} bytes exceeds the client's limit of ${this.host.clientMaxBodySize} (maxBodySize)`);
    }
    this.headersSent = true; // headers not sent by now go (empty) with the first message
  }

  /** OK: the trailers go out after the messages still waiting for credit. */
  end(trailers: Metadata | undefined): void {
    if (this.finished || this.sender.ending) return;
    this.trailers = trailers;
    this.sender.end();
  }

  fail(error: RpcError): void {
    if (this.finished) return;
    // Anything a handler produced must go out as a valid status: a code outside the range becomes UNKNOWN.
    const code = Number.isInteger(error?.code) && error.code > 0 && error.code <= 0x7fffffff ? error.code : Code.UNKNOWN;
    const message = typeof error?.message === 'string' ? error.message : String(error?.message ?? '');
    // "Never ran" (an unknown method, a refused open) lets the client's retry re-send the stream, so
    // it is said only while nothing went out: a stream that sent headers or a message has run.
    const notExecuted = error?.mayHaveRun === false && !this.headersSent;
    this.close(code, message, error?.metadata as Metadata | undefined, error instanceof RpcError ? error : new RpcError(code, message), notExecuted);
  }

  // --- from the connection

  /** False: a flow-control violation by the client. */
  onMessage(body: Uint8Array): boolean {
    return this.requests.push(body);
  }

  onHalfClose(): void {
    this.halfClosed = true;
    this.requests.end();
  }

  onWindowUpdate(increment: number): boolean {
    return this.sender.grant(increment);
  }

  /** The client cancelled, the connection dropped or the server is closing: the handler's signal aborts. */
  abort(reason: RpcError): void {
    if (this.abortReason !== undefined) return;
    this.abortReason = reason;
    this.requests.fail(reason);
    this.sender.fail(reason);
    this.controller?.abort(reason);
  }

  /** Ends the stream with a status written to the client (and the handler's signal aborted if not OK). */
  close(code: number, message: string, metadata: Metadata | undefined, reason?: RpcError, notExecuted = false): void {
    if (this.finished) return;
    this.finished = true;
    if (code !== Code.OK) {
      const error = reason ?? new RpcError(code, message);
      this.requests.fail(error);
      this.sender.fail(error);
    }
    this.host.writeStatus(this, code, message, notExecuted, metadata);
  }

  // --- InboxOwner

  returnCredit(bytes: number): void {
    if (!this.finished && !this.halfClosed) this.host.writeWindowUpdate(this, bytes);
  }

  /** The handler stopped reading requests: later ones are dropped (credit still flows). */
  abandoned(): void { /* the stream goes on: the handler may still answer */ }

  // --- SenderOwner

  get writable(): boolean {
    return !this.host.writePressure;
  }

  writeMessage(body: Uint8Array): void {
    this.host.writeMessage(this, body);
  }

  writeEncoded(length: number, encoder: MessageWriter, message: unknown): void {
    this.host.writeEncoded(this, length, encoder, message);
  }

  writeEnd(): void {
    this.finished = true;
    this.host.writeStatus(this, Code.OK, '', false, this.trailers);
  }

  waitWritable(sender: StreamSender): void {
    this.host.waitWritable(sender);
  }
}
