/** PINGs per second per connection before it counts as a flood (health checks send about one). */
export const DEFAULT_MAX_PINGS_PER_SECOND = 100;

/**
 * PINGs a connection may send per second before it counts as abuse (a PING flood costs the server a
 * PONG each and crowds out real traffic). A fixed one-second window: a PING costs one clock read.
 */
export class PingRateLimit {
  private windowStart = -Infinity;
  private count = 0;

  constructor(private readonly perSecond: number, private readonly now: () => number) {}

  /** Counts one PING; false once the connection is past the limit in the current second. */
  allow(): boolean {
    const now = this.now();
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.count = 0;
    }
    return ++this.count <= this.perSecond;
  }
}
