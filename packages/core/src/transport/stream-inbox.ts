import type { RpcError } from '../errors.js';
import type { BufferedMessages } from '../transport-stream.js';
import { FIXED_HEADER_SIZE } from './frame.js';

/** What an inbox tells its stream. */
export interface InboxOwner {
  /** The consumer took messages worth `bytes` of credit: send the peer a WINDOW_UPDATE. */
  returnCredit(bytes: number): void;
  /** The consumer left its loop early (`break`, `throw`, `return()`). */
  abandoned(): void;
}

/** Credit one message costs: its bytes plus its frame header, so empty messages are not free. */
export function messageCost(body: Uint8Array): number {
  return body.length + FIXED_HEADER_SIZE;
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });

/**
 * The receiving half of one stream's flow control: the messages that arrived and were not taken yet,
 * as an async iterable. The peer may send `window` bytes (messageCost) beyond what was taken; credit
 * goes back as the consumer *takes* messages — in one WINDOW_UPDATE per half window, not per message
 * — so a consumer that does not take stops the sender, and this buffer never holds more than the
 * window (plus one message: a sender with any credit left may send one message of any size).
 */
export class StreamInbox implements AsyncIterableIterator<Uint8Array>, BufferedMessages {
  private items: Uint8Array[] = [];
  private head = 0;
  /** Credit the sender still has with us (it may send while this is > 0). */
  private available: number;
  /** Taken and not yet given back. */
  private unacked = 0;
  private ended = false;
  private error: RpcError | undefined;
  private waiter: { resolve(r: IteratorResult<Uint8Array>): void; reject(e: unknown): void } | undefined;
  /** The consumer left: messages are dropped as they come (their credit returned). */
  private abandonedByConsumer = false;
  private iterated = false;

  constructor(private readonly window: number, private readonly owner: InboxOwner) {
    this.available = window;
  }

  /** Messages held, not yet taken. */
  get buffered(): number {
    return this.items.length - this.head;
  }

  /** Hands over an arrived message (an owned copy). False: the sender had no credit (a flow-control violation). */
  push(message: Uint8Array): boolean {
    if (this.available <= 0) return false;
    const cost = messageCost(message);
    this.available -= cost;
    if (this.ended || this.error !== undefined) return true;
    if (this.abandonedByConsumer) {
      this.taken(cost);
      return true;
    }
    const waiter = this.waiter;
    if (waiter !== undefined) {
      this.waiter = undefined;
      this.taken(cost);
      waiter.resolve({ value: message, done: false });
      return true;
    }
    this.items.push(message);
    return true;
  }

  /** The peer finished sending; the consumer still gets what is buffered. */
  end(): void {
    if (this.ended || this.error !== undefined) return;
    this.ended = true;
    if (this.waiter !== undefined && this.buffered === 0) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter.resolve(DONE);
    }
  }

  /**
   * The stream failed: the loop throws `error` — after what is buffered when `afterBuffered` (a
   * status that follows the messages), at once otherwise (cancelled, connection lost).
   */
  fail(error: RpcError, afterBuffered = false): void {
    if (this.ended || this.error !== undefined) return;
    this.error = error;
    if (!afterBuffered) this.drop();
    if (this.waiter !== undefined && this.buffered === 0) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter.reject(error);
    }
  }

  /** BufferedMessages: the next arrived message, or undefined when none is held (see `next()`). */
  takeBuffered(): Uint8Array | undefined {
    if (this.head >= this.items.length) return undefined;
    const message = this.items[this.head]!;
    this.items[this.head++] = undefined as unknown as Uint8Array;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    this.taken(messageCost(message));
    return message;
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    const message = this.takeBuffered();
    if (message !== undefined) return Promise.resolve({ value: message, done: false });
    if (this.error !== undefined) return Promise.reject(this.error);
    if (this.ended || this.abandonedByConsumer) return Promise.resolve(DONE);
    if (this.waiter !== undefined) return Promise.reject(new Error('StreamInbox: next() called again before the previous call settled'));
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  return(): Promise<IteratorResult<Uint8Array>> {
    this.abandon();
    return Promise.resolve(DONE);
  }

  throw(): Promise<IteratorResult<Uint8Array>> {
    this.abandon();
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Uint8Array> {
    if (this.iterated) throw new TypeError('a stream\'s messages can be iterated once');
    this.iterated = true;
    return this;
  }

  private abandon(): void {
    if (this.abandonedByConsumer) return;
    this.abandonedByConsumer = true;
    this.drop();
    if (!this.ended && this.error === undefined) this.owner.abandoned();
  }

  /** Drops what is buffered, giving its credit back (the stream may go on: the sender must not stall). */
  private drop(): void {
    let bytes = 0;
    for (let i = this.head; i < this.items.length; i++) bytes += messageCost(this.items[i]!);
    this.items = [];
    this.head = 0;
    if (bytes > 0) this.taken(bytes);
  }

  private taken(cost: number): void {
    if (this.ended || this.error !== undefined) return;
    this.unacked += cost;
    if (this.unacked >= this.window >> 1) {
      this.available += this.unacked;
      this.owner.returnCredit(this.unacked);
      this.unacked = 0;
    }
  }
}
