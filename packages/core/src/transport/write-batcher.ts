import type { Socket } from 'node:net';

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
    this.queue.push(frame);
    this.bytes += frame.length;
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.flushBound);
    }
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
