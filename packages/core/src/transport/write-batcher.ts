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
/** Bounds of the slab frames are written into in place (`reserve`): sized by what the last flush carried. */
const EMPTY_SLAB = Buffer.alloc(0);
const MIN_SLAB = 1024;
const MAX_SLAB = 64 * 1024;

export class WriteBatcher {
  private queue: Buffer[] = [];
  private bytes = 0;
  /**
   * Frames (unary requests and plain answers, stream messages) are encoded in place into this slab
   * (`reserve`), one after the other, so a tick's frames leave as one view of it: no Buffer per
   * frame and no concatenation. `[slabStart, slabEnd)` is what was reserved since the last cut;
   * bytes before it belong to the socket. At a flush the socket is given the slab's bytes; when it
   * took them all at once (nothing left in its buffer, as on a loopback or a fast link) the slab is
   * kept and the next tick's frames are written over it — a fresh slab per flush cost the stream
   * bench's server ≈ 40 % of its CPU on a busy machine (new pages to fault in, external memory for
   * the GC; docs/performance.md, "Streams, session 8"). Otherwise, and after an event-loop turn
   * without a flush, the slab is dropped, so an idle connection keeps none; a new one is sized by
   * what the last flush carried.
   */
  slab: Buffer = EMPTY_SLAB;
  private slabStart = 0;
  private slabEnd = 0;
  /** Bytes reserved since the last flush, and in the flush before (the next slab's size). */
  private slabBytes = 0;
  private lastSlabBytes = 0;
  private scheduled = false;
  /** A kept slab is checked at the next event-loop turn (setImmediate); a flush since the last check keeps it. */
  private keepChecking = false;
  private flushedSinceCheck = false;
  private readonly checkKeptBound = (): void => this.checkKept();
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
    this.cutSlab(); // frames leave in the order they were written
    this.queue.push(frame);
    this.bytes += frame.length;
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.flushBound);
    }
  }

  /**
   * Reserves `size` bytes for one frame at the end of `slab` and returns their offset; the caller
   * fills them in before it returns (the frame is queued as if given to `write`).
   */
  reserve(size: number): number {
    if (this.slab.length - this.slabEnd < size) {
      this.cutSlab();
      // Bytes before slabStart may still be the socket's: a new slab, never a reuse.
      this.slab = Buffer.allocUnsafe(Math.max(size, Math.min(MAX_SLAB, Math.max(MIN_SLAB, this.lastSlabBytes, this.slabBytes * 2))));
      this.slabStart = this.slabEnd = 0;
    }
    const offset = this.slabEnd;
    this.slabEnd += size;
    this.slabBytes += size;
    this.bytes += size;
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.flushBound);
    }
    return offset;
  }

  /**
   * Gives back the last reservation (`at`, `size`: what `reserve` returned and was given), for a frame
   * whose encoding failed half-way: nothing of it is sent. Only the most recent reservation can be
   * given back, before anything else is written.
   */
  unreserve(at: number, size: number): void {
    if (at + size !== this.slabEnd || at < this.slabStart) throw new Error('WriteBatcher.unreserve: not the last reservation');
    this.slabEnd = at;
    this.slabBytes -= size;
    this.bytes -= size;
  }

  private cutSlab(): void {
    if (this.slabEnd === this.slabStart) return;
    this.queue.push(this.slab.subarray(this.slabStart, this.slabEnd));
    this.slabStart = this.slabEnd;
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
    this.cutSlab();
    const slab = this.slab;
    if (slab !== EMPTY_SLAB) {
      this.slab = EMPTY_SLAB;
      this.slabStart = this.slabEnd = 0;
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
    } else if (slab !== EMPTY_SLAB && (data.buffer !== slab.buffer || this.socket.writableLength === 0)) {
      // The socket holds none of the slab (it took the bytes, or was given a concatenated copy).
      this.keep(slab);
    }
  }

  private keep(slab: Buffer): void {
    this.slab = slab;
    this.flushedSinceCheck = true;
    if (!this.keepChecking) {
      this.keepChecking = true;
      setImmediate(this.checkKeptBound);
    }
  }

  /** An event-loop turn without a flush drops the kept slab (an idle connection keeps none). */
  private checkKept(): void {
    if (this.flushedSinceCheck) {
      this.flushedSinceCheck = false;
      setImmediate(this.checkKeptBound);
      return;
    }
    this.keepChecking = false;
    // A slab with frames in it (the socket is blocked: they wait for 'drain') stays for them.
    if (this.slabEnd === 0) this.slab = EMPTY_SLAB;
  }

  private checkPressure(): void {
    if (!this.pressured && this.pending > this.highWaterMark) {
      this.pressured = true;
      this.onPressure?.(true);
    }
  }
}
