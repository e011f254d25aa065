import type { Socket } from 'node:net';

/**
 * Coalesces the frames written during one tick into a single socket write: at high concurrency,
 * dozens of responses resolve in the same microtask drain and leave as one syscall.
 */
export class WriteBatcher {
  private queue: Buffer[] = [];
  private bytes = 0;
  private scheduled = false;
  private readonly flushBound = (): void => this.flush();

  constructor(private readonly socket: Socket) {}

  write(frame: Buffer): void {
    this.queue.push(frame);
    this.bytes += frame.length;
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.flushBound);
    }
  }

  flush(): void {
    this.scheduled = false;
    const queue = this.queue;
    if (queue.length === 0 || this.socket.destroyed || this.socket.writableEnded) {
      queue.length = 0;
      this.bytes = 0;
      return;
    }
    const data = queue.length === 1 ? queue[0]! : Buffer.concat(queue, this.bytes);
    this.queue = [];
    this.bytes = 0;
    this.socket.write(data);
  }
}
