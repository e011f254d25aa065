import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';

/**
 * CPU and allocation profiles of this process over exactly one round, through the in-process
 * inspector (no restart with --cpu-prof, so warm-up and JIT state are those of the timed rounds).
 * Files are what Chrome DevTools and `node dist/profile-summary.js` read.
 */
export type ProfileMode = 'cpu' | 'heap';

/** CPU sampling period, µs: fine enough to see per-call functions of a ~10 µs call. */
export const CPU_SAMPLE_US = 50;
/** Mean bytes between allocation samples. */
export const HEAP_SAMPLE_BYTES = 8192;

let session: Session | undefined;

function post<T = unknown>(method: string, params?: object): Promise<T> {
  session ??= (() => {
    const s = new Session();
    s.connect();
    return s;
  })();
  return new Promise((resolve, reject) => session!.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result as T))));
}

export async function startProfile(mode: ProfileMode): Promise<void> {
  if (mode === 'cpu') {
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: CPU_SAMPLE_US });
    await post('Profiler.start');
  } else {
    await post('HeapProfiler.enable');
    // Objects that die young are the garbage the scavenger pays for: keep their samples too.
    await post('HeapProfiler.startSampling', { samplingInterval: HEAP_SAMPLE_BYTES, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  }
}

export async function stopProfile(mode: ProfileMode, path: string): Promise<void> {
  if (mode === 'cpu') {
    const { profile } = await post<{ profile: unknown }>('Profiler.stop');
    await post('Profiler.disable');
    writeFileSync(path, JSON.stringify(profile));
  } else {
    const { profile } = await post<{ profile: unknown }>('HeapProfiler.stopSampling');
    await post('HeapProfiler.disable');
    writeFileSync(path, JSON.stringify(profile));
  }
}
