/** Where a queue's messages come from: an HTTP/2 stream it can pause (flow control) and resume. */
export interface FlowSource {
  pause(): void;
  resume(): void;
}

/** Turns a received frame into the message (decompressing it when its flag says so). */
export type MessageDecoder = (bytes: Buffer, compressed: boolean) => Buffer | Promise<Buffer>;

interface Pending {
  resolve(result: IteratorResult<Uint8Array>): void;
  reject(error: unknown): void;
}

const DONE: IteratorResult<Uint8Array> = Object.freeze({ done: true, value: undefined });

/**
 * Received messages as an async iterable with backpressure: above `highWaterBytes` buffered and not
 * yet read, the HTTP/2 stream is paused, so node stops returning flow-control credit (WINDOW_UPDATE)
 * and the sender stalls; reading below half of it resumes the stream. Memory per stream is bounded
 * by the mark plus the stream's HTTP/2 window.
 */
export class MessageQueue implements AsyncIterableIterator<Uint8Array> {
  private items: { bytes: Buffer; compressed: boolean }[] = [];
  private head = 0;
  private bufferedBytes = 0;
  private paused = false;
  private ended = false;
  private error: unknown;
  private detached = false;
  private readonly waiting: Pending[] = [];
  /** Whether the message last handed out arrived compressed. */
  lastCompressed = false;

  constructor(
    private readonly source: FlowSource,
    private readonly decode: MessageDecoder,
    private readonly highWaterBytes: number,
  ) {}

  push(bytes: Buffer, compressed: boolean): void {
    if (this.detached || this.ended) return;
    const waiter = this.waiting.shift();
    if (waiter !== undefined) {
      this.deliver(bytes, compressed, waiter);
      return;
    }
    this.items.push({ bytes, compressed });
    this.bufferedBytes += bytes.length;
    if (!this.paused && this.bufferedBytes > this.highWaterBytes) {
      this.paused = true;
      this.source.pause();
    }
  }

  /** The sender half-closed: readers get `done` once the buffered messages are read. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.head >= this.items.length) for (const waiter of this.waiting.splice(0)) waiter.resolve(DONE);
  }

  /** The stream failed (cancelled, deadline, protocol error): pending and later reads reject with it. */
  fail(error: unknown): void {
    if (this.ended && this.error === undefined && this.head >= this.items.length) return;
    this.ended = true;
    this.error = error;
    this.items = [];
    this.head = 0;
    for (const waiter of this.waiting.splice(0)) waiter.reject(error);
  }

  next(): Promise<IteratorResult<Uint8Array>> {
    if (this.head < this.items.length) {
      const item = this.items[this.head]!;
      this.items[this.head++] = undefined as never;
      if (this.head === this.items.length) {
        this.items = [];
        this.head = 0;
      }
      this.bufferedBytes -= item.bytes.length;
      if (this.paused && this.bufferedBytes <= this.highWaterBytes / 2) {
        this.paused = false;
        this.source.resume();
      }
      return new Promise((resolve, reject) => this.deliver(item.bytes, item.compressed, { resolve, reject }));
    }
    if (this.error !== undefined) return Promise.reject(this.error);
    if (this.ended || this.detached) return Promise.resolve(DONE);
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /** The reader stopped early (`break`): what is buffered or still arriving is dropped. */
  return(): Promise<IteratorResult<Uint8Array>> {
    this.detached = true;
    this.items = [];
    this.head = 0;
    this.bufferedBytes = 0;
    if (this.paused) {
      this.paused = false;
      this.source.resume();
    }
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private deliver(bytes: Buffer, compressed: boolean, to: Pending): void {
    let decoded: Buffer | Promise<Buffer>;
    try {
      decoded = compressed ? this.decode(bytes, true) : bytes;
    } catch (error) {
      this.fail(error);
      to.reject(error);
      return;
    }
    if (!(decoded instanceof Promise)) {
      this.lastCompressed = compressed;
      to.resolve({ done: false, value: decoded });
      return;
    }
    decoded.then(
      (value) => {
        this.lastCompressed = compressed;
        to.resolve({ done: false, value });
      },
      (error: unknown) => {
        this.fail(error);
        to.reject(error);
      },
    );
  }
}
