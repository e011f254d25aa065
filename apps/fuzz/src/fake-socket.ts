import { EventEmitter } from 'node:events';

/**
 * Just enough of net.Socket for a ServerConnection, in memory: the fuzzer feeds a million inputs
 * through the real connection code without a million TCP handshakes.
 */
export class FakeSocket extends EventEmitter {
  readonly remoteAddress = '127.0.0.1';
  readonly remotePort = 40000;
  destroyed = false;
  writableEnded = false;
  /** Everything written is taken at once: no backpressure in memory. */
  readonly writableLength = 0;
  private paused = false;
  readonly written: Buffer[] = [];

  pause(): this {
    this.paused = true;
    return this;
  }

  resume(): this {
    this.paused = false;
    return this;
  }

  isPaused(): boolean {
    return this.paused;
  }

  setNoDelay(): this {
    return this;
  }

  setTimeout(): this {
    return this;
  }

  write(data: Buffer): boolean {
    if (this.writableEnded || this.destroyed) throw new Error('write after end: the server wrote to a closed connection');
    this.written.push(Buffer.from(data));
    return true;
  }

  end(): this {
    this.writableEnded = true;
    return this;
  }

  destroy(): this {
    if (!this.destroyed) {
      this.destroyed = true;
      process.nextTick(() => this.emit('close'));
    }
    return this;
  }
}
