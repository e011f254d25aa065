import { Code, RpcError } from '../errors.js';
import type { ClientStream, OutboundStream } from '../transport-stream.js';
import { StreamInbox, type InboxOwner } from './stream-inbox.js';
import { StreamSender, type SenderOwner } from './stream-sender.js';

/** What a client stream needs from its connection. */
export interface ClientStreamHost {
  readonly label: string;
  /** Bytes this client lets the server send per stream before credit comes back. */
  readonly receiveWindow: number;
  /** The connection is over its write high-water mark. */
  readonly writePressure: boolean;
  writeMessage(stream: TcpClientStream, body: Uint8Array): void;
  writeHalfClose(stream: TcpClientStream): void;
  writeWindowUpdate(stream: TcpClientStream, increment: number): void;
  /** Sends CANCEL (with a reason) if the open went out; forgets the stream. */
  cancelStream(stream: TcpClientStream, code: Code, message: string): void;
  waitWritable(sender: StreamSender): void;
  /** The stream ended: forget it. */
  streamEnded(stream: TcpClientStream): void;
  /** The largest message the server accepts (its maxBodySize). */
  readonly peerMaxBodySize: number;
}

const noop = (): void => {};

/** A promise made only when someone asks for it (most callers never read headers or trailers). */
class LazyOutcome<T> {
  private value: T | undefined;
  private error: unknown;
  private settled = false;
  private promise: Promise<T> | undefined;
  private resolveFn: ((value: T) => void) | undefined;
  private rejectFn: ((error: unknown) => void) | undefined;

  get(): Promise<T> {
    if (this.promise === undefined) {
      if (this.settled) {
        this.promise = this.error === undefined ? Promise.resolve(this.value as T) : Promise.reject(this.error);
      } else {
        this.promise = new Promise<T>((resolve, reject) => { this.resolveFn = resolve; this.rejectFn = reject; });
      }
      this.promise.catch(noop); // reading `headers` and not awaiting it must not crash the process
    }
    return this.promise;
  }

  resolve(value: T): void {
    if (this.settled) return;
    this.settled = true;
    this.value = value;
    this.resolveFn?.(value);
  }

  reject(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.error = error;
    this.rejectFn?.(error);
  }
}

const EMPTY_MAP: ReadonlyMap<string, string> = new Map();

/**
 * One stream as the client side of the native transport holds it: the server's messages (an inbox
 * that returns credit as they are taken), the client's messages (a sender bounded by the server's
 * credit), and the stream's outcome. States: waiting (for the handshake) → open (STREAM_OPEN
 * written) → over (trailers, cancel, a stream error or the connection lost).
 */
export class TcpClientStream implements ClientStream, InboxOwner, SenderOwner {
  readonly responses: StreamInbox;
  private readonly sender: StreamSender;
  private readonly headersOutcome = new LazyOutcome<ReadonlyMap<string, string>>();
  private readonly trailersOutcome = new LazyOutcome<ReadonlyMap<string, string>>();
  /** STREAM_OPEN was written: the server may have run the stream. */
  opened = false;
  over = false;

  constructor(
    private readonly host: ClientStreamHost | undefined,
    readonly streamId: number,
    readonly request: OutboundStream | undefined,
  ) {
    this.responses = new StreamInbox(host?.receiveWindow ?? 1, this);
    this.sender = new StreamSender(0, this);
    const signal = request?.signal;
    if (signal !== undefined) {
      if (signal.aborted) this.finish(new RpcError(Code.CANCELLED, 'stream cancelled by the caller before it opened', { mayHaveRun: false }));
      else signal.addEventListener('abort', this, { once: true });
    }
  }

  /** A stream that never opened (no connection to the endpoint): every outcome is `error`. */
  static failed(error: RpcError): TcpClientStream {
    const stream = new TcpClientStream(undefined, 0, undefined);
    stream.finish(error);
    return stream;
  }

  get headers(): Promise<ReadonlyMap<string, string>> {
    return this.headersOutcome.get();
  }

  get trailers(): Promise<ReadonlyMap<string, string>> {
    return this.trailersOutcome.get();
  }

  send(body: Uint8Array): Promise<void> | undefined {
    if (this.sender.ending && this.sender.failed === undefined) {
      throw new RpcError(Code.FAILED_PRECONDITION, 'send() after end(): this side of the stream is closed', { mayHaveRun: this.opened });
    }
    const host = this.host;
    if (host !== undefined && body.length > host.peerMaxBodySize && this.sender.failed === undefined) {
      throw new RpcError(Code.RESOURCE_EXHAUSTED, `stream message of ${body.length} bytes exceeds the peer's limit of ${host.peerMaxBodySize} (maxBodySize); nothing was sent`, { mayHaveRun: this.opened });
    }
    return this.sender.send(body);
  }

  end(): void {
    this.sender.end();
  }

  cancel(reason?: string): void {
    if (this.over) return;
    const message = `stream cancelled by the caller${reason ? `: ${reason}` : ''}`;
    this.host?.cancelStream(this, Code.CANCELLED, message);
    this.finish(new RpcError(Code.CANCELLED, message, { mayHaveRun: this.opened }));
  }

  /** The caller's AbortSignal fired (the stream object is its own listener: no closure per stream). */
  handleEvent(): void {
    const reason = this.request?.signal?.reason;
    this.cancel(reason instanceof Error ? reason.message : reason === undefined ? undefined : String(reason));
  }

  // --- from the connection

  /** STREAM_OPEN was written: the server's initial credit applies. */
  onOpened(credit: number): void {
    this.opened = true;
    this.sender.grant(credit);
  }

  onHeaders(metadata: ReadonlyMap<string, string>): void {
    this.headersOutcome.resolve(metadata);
  }

  /** False: a flow-control violation by the server. */
  onMessage(body: Uint8Array): boolean {
    this.headersOutcome.resolve(EMPTY_MAP);
    return this.responses.push(body);
  }

  /** False: the increment overflows the window. */
  onWindowUpdate(increment: number): boolean {
    return this.sender.grant(increment);
  }

  /** The server's status. */
  onTrailers(code: number, message: string, notExecuted: boolean, metadata: ReadonlyMap<string, string>): void {
    if (this.over) return;
    this.over = true;
    this.detach();
    if (code === Code.OK) {
      this.headersOutcome.resolve(EMPTY_MAP);
      this.trailersOutcome.resolve(metadata);
      this.responses.end();
      this.sender.fail(new RpcError(Code.FAILED_PRECONDITION, 'the server ended the stream: no more messages can be sent'));
      return;
    }
    const error = new RpcError(code, message || Code[code] || 'error', { mayHaveRun: !notExecuted, metadata });
    this.headersOutcome.reject(error);
    this.trailersOutcome.reject(error);
    this.responses.fail(error, true);
    this.sender.fail(error);
  }

  /** Ends the stream with `error` on this side (the connection has already said what it needs to). */
  finish(error: RpcError): void {
    if (this.over) return;
    this.over = true;
    this.detach();
    this.headersOutcome.reject(error);
    this.trailersOutcome.reject(error);
    this.responses.fail(error);
    this.sender.fail(error);
  }

  // --- InboxOwner

  returnCredit(bytes: number): void {
    if (!this.over) this.host?.writeWindowUpdate(this, bytes);
  }

  /** Leaving the loop early cancels the stream (the server's work is wasted otherwise). */
  abandoned(): void {
    this.cancel('the caller stopped reading the responses');
  }

  // --- SenderOwner

  get writable(): boolean {
    return this.opened && !this.host!.writePressure;
  }

  writeMessage(body: Uint8Array): void {
    this.host!.writeMessage(this, body);
  }

  writeEnd(): void {
    if (this.opened && !this.over) this.host!.writeHalfClose(this);
  }

  waitWritable(sender: StreamSender): void {
    if (this.opened) this.host!.waitWritable(sender);
  }

  private detach(): void {
    this.request?.signal?.removeEventListener('abort', this);
    this.host?.streamEnded(this);
  }
}
