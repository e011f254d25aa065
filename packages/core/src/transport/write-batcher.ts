import type { Socket } from 'node:net';

/** Bounds of the batch's own buffer for frames written in place (`reserve`). */
const NO_SLAB = Buffer.alloc(0);
const MIN_SLAB = 1024;
const MAX_SLAB = 64 * 1024;

/**
 * Coalesces the frames written during one tick into a single socket write: at high concurrency,
 * dozens of responses resolve in the same microtask drain and leave as one syscall.
 *
 * Honours backpressure: once `socket.write()` returns false, frames wait here until the socket's
 * 'drain' (and go out together then). When the bytes not yet taken by the kernel — queued here plus
 * the socket's own buffer — pass `highWaterMark`, `onPressure(true)` tells the connection to stop
 * reading new work; `onPressure(false)` follows once they are back under it.
 */
export class WriteBatcher {
  private queue: Buffer[] = [];
  private bytes = 0;
  private scheduled = false;
  /** socket.write() returned false: wait for 'drain'. */
  private blocked = false;
  private pressured = false;
  private readonly flushBound = (): void => this.flush();
  /**
   * The batch's own buffer for frames written in place (`reserve`): bytes [sealed, used) are
   * queued but not yet cut into `queue`. Dropped at each flush (the socket holds what it was given),
   * so an idle connection keeps none; the next one is sized by what the last flush carried.
   */
  private slab: Buffer = NO_SLAB;
  private sealed = 0;
  private used = 0;
  /** Bytes reserved since the last flush, and in the flush before (the next buffer's size). */
  private slabBytes = 0;
  private lastSlabBytes = 0;
  /** Where the frame `reserve` made room for starts in the buffer it returned. */
  reservedAt = 0;

  constructor(
    private readonly socket: Socket,
    private readonly highWaterMark = Infinity,
    private readonly onPressure?: (high: boolean) => void,
  ) {
    socket.on('drain', () => {
      this.blocked = false;
      this.flush();
      if (this.pressured && this.pending <= this.highWaterMark) {
        this.pressured = false;
        this.onPressure?.(false);
      }
    });
  }

  /** Bytes written by the connection that the kernel has not taken yet. */
  get pending(): number {
    return this.bytes + this.socket.writableLength;
  }

  get underPressure(): boolean {
    return this.pressured;
  }

  write(frame: Buffer): void {
    if (this.used > this.sealed) this.seal();
    this.queue.push(frame);
    this.bytes += frame.length;
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.flushBound);
    }
  }

  /**
   * Room for one `size`-byte frame, which the caller fills at once from `reservedAt` of the returned
   * buffer; it goes out in order with the frames given to `write()`. For stream messages: many
   * small frames per tick get no buffer each and no copy into the batch's write (bench:stream).
   */
  reserve(size: number): Buffer {
    if (this.used + size > this.slab.length) {
      if (this.used > this.sealed) this.seal();
      this.slab = Buffer.allocUnsafe(Math.max(size, Math.min(MAX_SLAB, Math.max(MIN_SLAB, this.lastSlabBytes, this.slabBytes * 2))));
      this.sealed = this.used = 0;
    }
    this.reservedAt = this.used;
    this.used += size;
    this.slabBytes += size;
    this.bytes += size;
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.flushBound);
    }
    return this.slab;
  }

  private seal(): void {
    this.queue.push(this.slab.subarray(this.sealed, this.used));
    this.sealed = this.used;
  }

  /** Writes what is queued now (once per tick, or on 'drain'). */
  flush(): void {
    this.scheduled = false;
    if (this.blocked) {
      this.checkPressure();
      return;
    }
    this.writeQueued();
  }

  /**
   * Hands everything queued to the socket even while it is over its limit: used right before
   * end()/destroy(), where a GOAWAY must not be left behind in the queue.
   */
  flushNow(): void {
    this.writeQueued();
  }

  private writeQueued(): void {
    if (this.used > this.sealed) this.seal();
    if (this.slab !== NO_SLAB) {
      this.slab = NO_SLAB;
      this.sealed = this.used = 0;
      this.lastSlabBytes = this.slabBytes;
      this.slabBytes = 0;
    }
    const queue = this.queue;
    if (queue.length === 0) return;
    if (this.socket.destroyed || this.socket.writableEnded) {
      queue.length = 0;
      this.bytes = 0;
      return;
    }
    const data = queue.length === 1 ? queue[0]! : Buffer.concat(queue, this.bytes);
    this.queue = [];
    this.bytes = 0;
    if (!this.socket.write(data)) {
      this.blocked = true;
      this.checkPressure();
    }
  }

  private checkPressure(): void {
    if (!this.pressured && this.pending > this.highWaterMark) {
      this.pressured = true;
      this.onPressure?.(true);
    }
  }
}
