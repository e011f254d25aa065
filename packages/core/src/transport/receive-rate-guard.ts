import type { FrameDecoder } from './frame-decoder.js';

export interface ReceiveRateOptions {
  /** Bytes per second a started frame must keep arriving at (0 = no minimum). */
  readonly minBytesPerSecond: number;
  /** The window the rate is measured over; a frame that started gets this long before the first check. */
  readonly windowMs: number;
}

/**
 * Closes a connection whose peer started a frame and then dribbles it (slowloris after the first
 * frame): in every window of `windowMs` while a frame is incomplete, at least
 * `minBytesPerSecond × windowMs / 1000` bytes of it must arrive. Nothing runs per chunk beyond one
 * property read; one unref'd timer exists only while a frame is incomplete. Time spent paused by our
 * own backpressure does not count against the peer.
 */
export class ReceiveRateGuard {
  private timer: NodeJS.Timeout | undefined;
  private windowStartBytes = 0;
  private frameMark = 0;
  private paused = false;
  private readonly checkBound = (): void => {
    // Let pending socket reads run first: after an event-loop stall the bytes may be waiting.
    setImmediate(this.decideBound);
  };
  private readonly decideBound = (): void => this.decide();

  constructor(
    private readonly decoder: FrameDecoder,
    private readonly options: ReceiveRateOptions,
    private readonly onTooSlow: (message: string) => void,
  ) {}

  /** After each chunk: starts watching when a frame is left incomplete. */
  afterData(): void {
    if (this.timer === undefined && !this.paused && this.decoder.midFrame && this.options.minBytesPerSecond > 0) this.arm();
  }

  /** Reading stopped by us (backpressure): the peer is not to blame meanwhile. */
  pause(): void {
    this.paused = true;
    this.stop();
  }

  resume(): void {
    this.paused = false;
    this.afterData();
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    this.windowStartBytes = this.decoder.frameBytes;
    this.frameMark = this.decoder.completedPartials;
    this.timer = setTimeout(this.checkBound, this.options.windowMs);
    this.timer.unref();
  }

  private decide(): void {
    this.timer = undefined;
    if (this.paused || !this.decoder.midFrame) return;
    const sameFrame = this.decoder.completedPartials === this.frameMark;
    const arrived = sameFrame ? this.decoder.frameBytes - this.windowStartBytes : this.decoder.frameBytes;
    const needed = (this.options.minBytesPerSecond * this.options.windowMs) / 1000;
    if (sameFrame && arrived < needed) {
      this.onTooSlow(
        `a frame arrived at ${Math.round((arrived * 1000) / this.options.windowMs)} bytes/s over ${this.options.windowMs} ms, ` +
        `below the minimum of ${this.options.minBytesPerSecond} (minReceiveRate)`,
      );
      return;
    }
    this.arm();
  }
}
