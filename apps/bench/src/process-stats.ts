import { readFileSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';
import { constants, PerformanceObserver, performance, type EventLoopUtilization, type PerformanceEntry } from 'node:perf_hooks';

/**
 * What one benchmark process spent over an interval: CPU, event-loop utilisation and garbage
 * collection. Both sides take the same snapshots, so a latency-bound run (both loops partly idle,
 * each waiting for the other's batch) is told apart from a CPU-bound one (a loop near 100 %).
 */
export interface StatsSnapshot {
  readonly at: number;
  readonly cpu: NodeJS.CpuUsage;
  /** CPU of the main (JavaScript) thread alone, µs; NaN where /proc is not available. */
  readonly mainThreadCpuUs: number;
  readonly elu: EventLoopUtilization;
  readonly gcCount: number;
  readonly gcMs: number;
  readonly majorGcCount: number;
  /** Size of V8's young generation (new space) now: V8 grows it under a high allocation rate. */
  readonly youngGenBytes: number;
}

export interface IntervalStats {
  readonly wallMs: number;
  /** User + system CPU over the interval, µs. */
  readonly cpuUs: number;
  /** % of one core. */
  readonly cpuPct: number;
  /**
   * CPU of the main thread alone, µs (NaN off Linux): the rest of `cpuUs` is V8's GC helper threads,
   * libuv's pool and the profiler. It is also what a CPU profile's samples divide up.
   */
  readonly mainThreadCpuUs: number;
  /** Event-loop utilisation over the interval, 0–1 (performance.eventLoopUtilization()). */
  readonly elu: number;
  readonly gcCount: number;
  readonly majorGcCount: number;
  /** Time the main thread spent in GC pauses, as % of the event loop's busy time. */
  readonly gcPctOfBusy: number;
  /** Young generation size at the end of the interval, MiB. */
  readonly youngGenMiB: number;
}

let gcCount = 0;
let gcMs = 0;
let majorGcCount = 0;
let observer: PerformanceObserver | undefined;

function drain(entries: readonly PerformanceEntry[]): void {
  for (const entry of entries) {
    gcCount++;
    gcMs += entry.duration;
    if ((entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majorGcCount++;
  }
}

/** Starts counting GC pauses (one PerformanceObserver entry per pause; cheap: not per allocation). */
export function observeGc(): void {
  if (observer) return;
  observer = new PerformanceObserver((list) => drain(list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
}

/** /proc/<pid>/task/<pid>/stat: utime + stime of the main thread, in clock ticks (100 Hz). */
const TICK_US = 10_000;
const mainThreadStat = `/proc/${process.pid}/task/${process.pid}/stat`;
function mainThreadCpu(): number {
  try {
    const stat = readFileSync(mainThreadStat, 'latin1');
    // Fields after the command name, which is in parentheses and may contain spaces: state is #3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_US;
  } catch {
    return NaN;
  }
}

export function snapshot(): StatsSnapshot {
  // Entries not yet delivered to the observer's callback belong to the interval that just ended.
  if (observer) drain(observer.takeRecords());
  const newSpace = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
  return {
    at: performance.now(), cpu: process.cpuUsage(), mainThreadCpuUs: mainThreadCpu(), elu: performance.eventLoopUtilization(),
    gcCount, gcMs, majorGcCount, youngGenBytes: newSpace?.space_size ?? NaN,
  };
}

export function between(before: StatsSnapshot, after: StatsSnapshot): IntervalStats {
  const wallMs = after.at - before.at;
  const cpuUs = after.cpu.user - before.cpu.user + after.cpu.system - before.cpu.system;
  const elu = performance.eventLoopUtilization(after.elu, before.elu);
  return {
    wallMs,
    cpuUs,
    cpuPct: wallMs > 0 ? (cpuUs / 1000 / wallMs) * 100 : 0,
    mainThreadCpuUs: after.mainThreadCpuUs - before.mainThreadCpuUs,
    elu: elu.utilization,
    gcCount: after.gcCount - before.gcCount,
    majorGcCount: after.majorGcCount - before.majorGcCount,
    gcPctOfBusy: elu.active > 0 ? ((after.gcMs - before.gcMs) / elu.active) * 100 : 0,
    youngGenMiB: after.youngGenBytes / 1024 / 1024,
  };
}
