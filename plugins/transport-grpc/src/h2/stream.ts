import { EventEmitter } from 'node:events';
import { ErrorCode } from './constants.js';
import type { H2Connection } from './connection.js';
import type { OutgoingHeaders } from './hpack-encoder.js';

/** Request headers as received: lower-case names, repeated fields as arrays (node:http2's shape). */
export type IncomingHeaders = Record<string, string | string[] | undefined>;

export interface RespondOptions {
  /** End the stream with these headers (a Trailers-Only response). */
  readonly endStream?: boolean;
  /** After end(), emit 'wantTrailers' once every DATA byte is out; the listener calls sendTrailers(). */
  readonly waitForTrailers?: boolean;
}

function closeStream(stream: H2Stream): void {
  stream.emit('close');
}

/**
 * One server stream of the engine, with the part of node:http2's ServerHttp2Stream a gRPC call
 * uses: events 'data', 'end', 'close', 'drain', 'wantTrailers'; respond / write / end /
 * sendTrailers / pause / resume / close. Flow control both ways is the connection's: received DATA
 * is credited back (WINDOW_UPDATE) only as it is delivered, so a paused stream stalls its sender;
 * write() queues what the peer's windows do not allow and returns false until 'drain'.
 */
export class H2Stream extends EventEmitter {
  /** Receive window left (bytes the peer may still send before our WINDOW_UPDATE). */
  recvWindow: number;
  /** Delivered bytes not yet credited back. */
  recvUnacked = 0;
  /** Send window left. */
  sendWindow: number;
  /** DATA waiting for window; `queuedBytes` its total. */
  queue: Buffer[] = [];
  queuedBytes = 0;
  /** Received while paused, not yet delivered. */
  private buffered: Buffer[] | undefined;
  private paused = false;
  /** The peer sent END_STREAM (delivered as 'end' once the buffer is empty). */
  remoteEnded = false;
  readableEnded = false;
  /** END_STREAM goes with the last queued DATA byte. */
  endQueued = false;
  /** end() was called: END_STREAM (or the trailers) follow the queued DATA. */
  localEnding = false;
  /** END_STREAM sent. */
  localEnded = false;
  headersSent = false;
  private waitForTrailers = false;
  needDrain = false;
  destroyed = false;
  closed = false;

  constructor(readonly id: number, readonly session: H2Connection, recvWindow: number, sendWindow: number) {
    super();
    this.recvWindow = recvWindow;
    this.sendWindow = sendWindow;
  }

  get pending(): boolean {
    return this.queuedBytes > 0;
  }

  respond(headers: OutgoingHeaders, options?: RespondOptions): void {
    if (this.destroyed || this.localEnded) throw new Error('the stream is closed');
    if (this.headersSent) throw new Error('the response headers were already sent');
    this.headersSent = true;
    const endStream = options?.endStream === true;
    this.waitForTrailers = options?.waitForTrailers === true;
    this.session.sendHeaders(this, headers, endStream);
    if (endStream) this.sentEnd();
  }

  write(chunk: Buffer): boolean {
    if (this.destroyed || this.localEnding) return false;
    if (!this.headersSent) this.respond({ ':status': '200' });
    this.session.sendData(this, chunk, false);
    if (this.queuedBytes > 0 || this.session.congested) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  end(chunk?: Buffer): void {
    if (this.destroyed || this.localEnding) return;
    if (!this.headersSent) this.respond({ ':status': '200' });
    this.localEnding = true;
    if (this.waitForTrailers) {
      // Once the queue is empty 'wantTrailers' fires (from the flush, or here when nothing was queued).
      if (chunk !== undefined && chunk.length > 0) this.session.sendData(this, chunk, false);
      else if (this.queuedBytes === 0) this.emit('wantTrailers');
    } else {
      this.session.sendData(this, chunk ?? EMPTY, true);
    }
  }

  sendTrailers(headers: OutgoingHeaders): void {
    if (this.destroyed || this.localEnded) throw new Error('the stream is closed');
    this.session.sendHeaders(this, headers, true);
    this.sentEnd();
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    const buffered = this.buffered;
    if (buffered !== undefined) {
      this.buffered = undefined;
      for (const chunk of buffered) {
        if (this.paused) {
          (this.buffered ??= []).push(chunk);
          continue;
        }
        this.deliver(chunk);
      }
    }
    if (!this.paused && this.remoteEnded && !this.readableEnded && this.buffered === undefined) this.deliverEnd();
  }

  /** Resets the stream (RST_STREAM with `code`, CANCEL by default). */
  close(code: number = ErrorCode.CANCEL): void {
    if (this.destroyed) return;
    this.session.resetStream(this, code);
  }

  // ---- connection side ----

  /** DATA received (flow control already checked). */
  onData(chunk: Buffer): void {
    if (this.paused || this.buffered !== undefined) (this.buffered ??= []).push(chunk);
    else this.deliver(chunk);
  }

  onEnd(): void {
    this.remoteEnded = true;
    if (!this.paused && this.buffered === undefined) this.deliverEnd();
    if (this.localEnded) this.session.streamDone(this);
  }

  /** The queue emptied: a waiting writer may go on, an ending stream sends its trailers. */
  onDrained(): void {
    if (this.localEnding && this.waitForTrailers && !this.localEnded) this.emit('wantTrailers');
    if (this.needDrain && !this.destroyed) {
      this.needDrain = false;
      this.emit('drain');
    }
  }

  sentEnd(): void {
    this.localEnded = true;
    this.localEnding = true;
    if (this.remoteEnded) this.session.streamDone(this);
    else this.session.endedBeforePeer(this);
  }

  /** The stream is over (both ends closed or reset): 'close' follows on the next tick, as node does. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.closed = true;
    this.queue = [];
    this.queuedBytes = 0;
    this.buffered = undefined;
    process.nextTick(closeStream, this);
  }

  private deliver(chunk: Buffer): void {
    this.emit('data', chunk);
    this.session.consumed(this, chunk.length);
  }

  private deliverEnd(): void {
    this.readableEnded = true;
    this.emit('end');
  }
}

const EMPTY = Buffer.alloc(0);
