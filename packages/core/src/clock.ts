import { performance } from 'node:perf_hooks';

/** Monotonic milliseconds. Injected so balancers, breakers and health can be tested with a fake clock. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => performance.now() };
