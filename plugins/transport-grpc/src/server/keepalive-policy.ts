/**
 * The server's answer to abusive pings, as gRPC servers do it (C-core's "ping strikes"): a PING that
 * arrives sooner than `minIntervalMs` after the previous one, with no call started or message sent
 * in between, is a strike; past `maxStrikes` the connection gets GOAWAY ENHANCE_YOUR_CALM
 * ("too_many_pings") and is closed. Legitimate keepalive (at most one ping per interval) and BDP
 * pings sent while data flows are never struck.
 */
export class PingPolicy {
  private lastPingAt = -Infinity;
  private strikes = 0;
  private activitySincePing = false;

  constructor(private readonly minIntervalMs: number, private readonly maxStrikes: number) {}

  /** A call started or a message went out on this connection. */
  activity(): void {
    this.activitySincePing = true;
  }

  /** Returns true when this ping is one too many and the connection must be closed. */
  onPing(now: number): boolean {
    const tooSoon = now - this.lastPingAt < this.minIntervalMs;
    this.lastPingAt = now;
    if (this.activitySincePing) {
      this.activitySincePing = false;
      this.strikes = 0;
      return false;
    }
    if (!tooSoon) return false;
    return ++this.strikes > this.maxStrikes;
  }
}
