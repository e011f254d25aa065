import { monitorEventLoopDelay, performance, type EventLoopUtilization, type IntervalHistogram } from 'node:perf_hooks';

/**
 * Process figures for the overview: event-loop utilisation and delay over the last interval between
 * two reads (libuv's own counters and Node's delay histogram: no per-call cost), memory, uptime.
 */
export class ProcessOverview {
  private readonly delay: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  private lastElu: EventLoopUtilization = performance.eventLoopUtilization();
  private lastRead = { utilization: 0, lagP50Ms: 0, lagP99Ms: 0, lagMaxMs: 0 };
  private lastReadAt = 0;

  constructor() {
    this.delay.enable();
  }

  /** Recomputed at most once a second so that several pages polling share one interval. */
  eventLoop(now = Date.now()): { utilization: number; lagP50Ms: number; lagP99Ms: number; lagMaxMs: number } {
    if (now - this.lastReadAt >= 1000) {
      const elu = performance.eventLoopUtilization(this.lastElu);
      this.lastElu = performance.eventLoopUtilization();
      const ms = (ns: number): number => Math.round((ns / 1e6) * 100) / 100;
      this.lastRead = {
        utilization: Math.round(elu.utilization * 1000) / 1000,
        // The histogram counts the timer's own resolution: report the delay beyond it.
        lagP50Ms: Math.max(0, ms(this.delay.percentile(50)) - 10),
        lagP99Ms: Math.max(0, ms(this.delay.percentile(99)) - 10),
        lagMaxMs: Math.max(0, ms(this.delay.max) - 10),
      };
      this.delay.reset();
      this.lastReadAt = now;
    }
    return this.lastRead;
  }

  read(): Record<string, unknown> {
    const memory = process.memoryUsage();
    return {
      pid: process.pid,
      node: process.version,
      platform: `${process.platform}/${process.arch}`,
      uptimeSeconds: Math.round(process.uptime()),
      startedAt: new Date(Date.now() - process.uptime() * 1000).toISOString(),
      eventLoop: this.eventLoop(),
      memory: { rss: memory.rss, heapUsed: memory.heapUsed, heapTotal: memory.heapTotal, external: memory.external },
    };
  }

  close(): void {
    this.delay.disable();
  }
}
