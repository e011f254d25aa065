import type { PartialFrameBudget } from './frame-decoder.js';

/**
 * The server-wide cap on bytes held in partial frames (frames that started arriving and are not
 * complete). Without it, 500 sockets each holding 2 MiB of a 4 MiB frame cost 1.14 GB; with it a
 * frame that finds the budget spent is refused for its call alone (RESOURCE_EXHAUSTED, not executed)
 * and skipped, while complete frames are never affected.
 */
export class ServerPartialFrameBudget implements PartialFrameBudget {
  private held = 0;
  readonly refusal: string;

  constructor(private readonly cap: number) {
    this.refusal = `the server already holds ${cap} bytes of partially received frames (maxPartialFrameBytes); try again`;
  }

  /** Bytes currently held across the server's connections. */
  get bytes(): number {
    return this.held;
  }

  take(bytes: number): boolean {
    if (this.held + bytes > this.cap) return false;
    this.held += bytes;
    return true;
  }

  give(bytes: number): void {
    this.held -= bytes;
  }
}
