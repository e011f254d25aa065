import { performance } from 'node:perf_hooks';

interface Stall {
  readonly start: number;
  readonly end: number;
}

const KEEP_STALLS = 32;

/**
 * Notices when this process's own event loop was blocked (a busy consumer, a long GC), by timer
 * drift: a sampler runs every `sampleMs`, and a tick that comes `thresholdMs` later than scheduled
 * records a stall [when it should have run, when it ran].
 *
 * A heartbeat or call that timed out while the loop was blocked says nothing about the provider:
 * its PONG may have been sitting unread in the socket while the timeout fired. `overlaps` tells the
 * health monitor to discount such failures. It also covers a stall that is still being caught up on:
 * after a block, Node runs every overdue timer in one go, and a heartbeat's timeout may fire before
 * the sampler's tick has recorded the stall, so a sampler that is overdue right now counts as a stall
 * in progress.
 *
 * Times are performance.now() ms: a stall is a real-time event, whatever clock the client runs on.
 */
export class LoopStallMonitor {
  private static readonly shared = new Map<string, { monitor: LoopStallMonitor; users: number }>();

  /** Increments on every recorded stall; a call that saw it change overlapped one. */
  epoch = 0;
  private readonly stalls: Stall[] = [];
  private lastTick = performance.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly sampleMs: number, readonly thresholdMs: number) {}

  /** One sampler per setting per process, shared by every client that uses it. */
  static acquire(sampleMs: number, thresholdMs: number): { monitor: LoopStallMonitor; release(): void } {
    const key = `${sampleMs}/${thresholdMs}`;
    let entry = LoopStallMonitor.shared.get(key);
    if (entry === undefined) {
      entry = { monitor: new LoopStallMonitor(sampleMs, thresholdMs), users: 0 };
      LoopStallMonitor.shared.set(key, entry);
      entry.monitor.start();
    }
    entry.users++;
    const held = entry;
    let released = false;
    return {
      monitor: held.monitor,
      release: () => {
        if (released) return;
        released = true;
        if (--held.users === 0) {
          held.monitor.stop();
          LoopStallMonitor.shared.delete(key);
        }
      },
    };
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.lastTick = performance.now();
    this.timer = setInterval(() => this.tick(), this.sampleMs);
    // Sampling must never keep a process alive on its own.
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** True when the loop was blocked at some point in [from, to] (performance.now() ms). */
  overlaps(from: number, to: number): boolean {
    if (this.timer !== undefined) {
      const due = this.lastTick + this.sampleMs;
      if (performance.now() - due > this.thresholdMs && due < to) return true;
    }
    for (let i = this.stalls.length - 1; i >= 0; i--) {
      const stall = this.stalls[i]!;
      if (stall.end < from) break;
      if (stall.start < to) return true;
    }
    return false;
  }

  /**
   * True when a stall was recorded since `epoch` was read, or one is being caught up on now: the
   * cheap form of `overlaps` for calls, which read `epoch` when they start instead of the time.
   */
  stalledSince(epoch: number): boolean {
    if (epoch !== this.epoch) return true;
    return this.timer !== undefined && performance.now() - (this.lastTick + this.sampleMs) > this.thresholdMs;
  }

  /** Stalls recorded so far, oldest first (at most the last 32). */
  recent(): readonly Stall[] {
    return this.stalls;
  }

  private tick(): void {
    const now = performance.now();
    const due = this.lastTick + this.sampleMs;
    this.lastTick = now;
    if (now - due <= this.thresholdMs) return;
    this.stalls.push({ start: due, end: now });
    if (this.stalls.length > KEEP_STALLS) this.stalls.shift();
    this.epoch++;
  }
}
