import { readFileSync } from 'node:fs';

/** The resident set size of a process, in MB (Linux /proc). */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** Samples a process's RSS every 50 ms until stop(); returns the highest value seen, in MB. */
export function rssPeak(pid: number): { stop(): number } {
  let peak = rssMb(pid);
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssMb(pid));
    } catch { /* the process is gone */ }
  }, 50);
  return {
    stop: () => {
      clearInterval(timer);
      try {
        return Math.max(peak, rssMb(pid));
      } catch {
        return peak;
      }
    },
  };
}
