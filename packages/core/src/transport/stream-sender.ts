import type { RpcError } from '../errors.js';
import type { MessageWriter } from '../transport-stream.js';
import { FIXED_HEADER_SIZE, MAX_WINDOW } from './frame.js';
import { messageCost } from './stream-inbox.js';

/** Where a sender writes, and whether the connection can take more now. */
export interface SenderOwner {
  writeMessage(body: Uint8Array): void;
  /** Optional: a message of `length` bytes encoded by `encoder` straight into the connection's batch. */
  writeEncoded?(length: number, encoder: MessageWriter, message: unknown): void;
  /** Called once, after every message before it was written (half-close or trailers). */
  writeEnd(): void;
  /** False while the connection's socket is over its high-water mark (or the stream is not open yet). */
  readonly writable: boolean;
  /** Asks to be pumped once `writable` turns true again. */
  waitWritable(sender: StreamSender): void;
}

interface Queued {
  readonly body: Uint8Array;
  resolve(): void;
  reject(error: unknown): void;
}

const noop = (): void => {};

/**
 * The sending half of one stream's flow control. `send()` writes at once and returns `undefined`
 * while the peer's credit (and the socket) has room — no promise on that path; otherwise the
 * message waits here and the caller gets a promise that resolves when it was written. A sender
 * with any credit left may send one message of any size (credit may go negative), so a message
 * larger than the window still goes; then it waits for the peer to take enough.
 */
export class StreamSender {
  /** Bytes the peer will still take (messageCost units); may be negative. */
  credit: number;
  private queue: Queued[] | undefined;
  /** The caller's promise after its message used up the credit: resolves when credit comes back. */
  private drained: { promise: Promise<void>; resolve(): void; reject(e: unknown): void } | undefined;
  private endRequested = false;
  private endWritten = false;
  private error: RpcError | undefined;

  constructor(credit: number, private readonly owner: SenderOwner) {
    this.credit = credit;
  }

  get failed(): RpcError | undefined {
    return this.error;
  }

  get ending(): boolean {
    return this.endRequested;
  }

  send(body: Uint8Array): Promise<void> | undefined {
    if (this.error !== undefined) throw this.error;
    const owner = this.owner;
    if (this.queue === undefined && this.credit > 0 && owner.writable) {
      this.credit -= messageCost(body);
      owner.writeMessage(body);
      if (this.credit > 0) return undefined;
      return this.waitForCredit();
    }
    const promise = new Promise<void>((resolve, reject) => {
      (this.queue ??= []).push({ body, resolve, reject });
      if (!owner.writable) owner.waitWritable(this);
    });
    promise.catch(noop); // as in waitForCredit
    return promise;
  }

  /**
   * `send` for a message encoded in place (ServerStreamExchange.sendEncoded): written straight into
   * the connection's batch when it may go now; otherwise encoded into a buffer of its own and queued.
   */
  sendEncoded(length: number, encoder: MessageWriter, message: unknown): Promise<void> | undefined {
    if (this.error !== undefined) throw this.error;
    const owner = this.owner;
    if (owner.writeEncoded !== undefined && this.queue === undefined && this.credit > 0 && owner.writable) {
      this.credit -= length + FIXED_HEADER_SIZE; // messageCost
      owner.writeEncoded(length, encoder, message);
      if (this.credit > 0) return undefined;
      return this.waitForCredit();
    }
    const body = Buffer.allocUnsafe(length);
    const end = encoder.encodeInto(message, body, 0);
    if (end !== length) throw new Error(`the codec wrote ${end} bytes of a message it measured at ${length}`);
    return this.send(body);
  }

  /** No more messages: the end goes out after the queued ones. Idempotent. */
  end(): void {
    if (this.endRequested || this.error !== undefined) return;
    this.endRequested = true;
    this.pump();
  }

  /** The peer returned credit. False: it would pass 2^31-1 (a flow-control error). */
  grant(increment: number): boolean {
    if (this.credit + increment > MAX_WINDOW) return false;
    this.credit += increment;
    this.pump();
    return true;
  }

  /** Writes queued messages while credit and the socket allow; wakes a caller waiting for credit. */
  pump(): void {
    if (this.error !== undefined) return;
    const owner = this.owner;
    const queue = this.queue;
    if (queue !== undefined) {
      let i = 0;
      while (i < queue.length && this.credit > 0 && owner.writable) {
        const item = queue[i++]!;
        this.credit -= messageCost(item.body);
        owner.writeMessage(item.body);
        item.resolve();
      }
      if (i < queue.length) {
        queue.splice(0, i);
        if (!owner.writable) owner.waitWritable(this);
        return;
      }
      this.queue = undefined;
    }
    if (this.endRequested && !this.endWritten) {
      if (owner.writable) {
        this.endWritten = true;
        owner.writeEnd();
      } else {
        owner.waitWritable(this);
      }
    }
    if (this.drained !== undefined && this.credit > 0) {
      const drained = this.drained;
      this.drained = undefined;
      if (owner.writable) drained.resolve();
      else {
        this.drained = drained;
        owner.waitWritable(this);
      }
    }
  }

  /** The stream is over: queued messages and waiting callers are rejected, later sends throw. */
  fail(error: RpcError): void {
    if (this.error !== undefined) return;
    this.error = error;
    const queue = this.queue;
    this.queue = undefined;
    if (queue !== undefined) for (const item of queue) item.reject(error);
    const drained = this.drained;
    this.drained = undefined;
    drained?.reject(error);
  }

  private waitForCredit(): Promise<void> {
    if (this.drained === undefined) {
      let resolve: () => void = noop;
      let reject: (e: unknown) => void = noop;
      const promise = new Promise<void>((res, rej) => { resolve = res; reject = rej; });
      // A caller that dropped the promise must not crash the process when the stream then fails.
      promise.catch(noop);
      this.drained = { promise, resolve, reject };
    }
    return this.drained.promise;
  }
}
