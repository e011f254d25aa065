import { Code, type Plugin } from '@trellis/core';
import { breaker } from '@trellis/breaker';
import { health } from '@trellis/health';
import { retry } from '@trellis/retry';
import type { ModuleRef } from '@trellis/testkit';

/** Each Echo attempt's cap, so a frozen provider costs one attempt, not the call. */
export const ECHO_ATTEMPT_TIMEOUT_MS = 400;

/**
 * Every consumer's deadline per call. Four attempts of 400 ms fit well inside it, so it is not what
 * fails a call the governance cannot save (the attempts run out first); it only decides how long a
 * process may stall before a call is lost. At 2 s a machine at load 31 lost 2 calls in the etcd
 * outage scenario (p99 1.65 s: attempts started late and timed out late), none of them the fault's.
 */
export const CALL_TIMEOUT_MS = 5000;

/**
 * The consumer's governance in every scenario: retry (failover within the deadline, each attempt
 * capped so a frozen provider costs one attempt, not the call), health (heartbeats take a frozen or
 * dead provider out of rotation), breaker (stops calling what keeps failing).
 */
export function consumerPlugins(echoAttemptTimeoutMs = ECHO_ATTEMPT_TIMEOUT_MS): Plugin[] {
  return [
    health({ intervalMs: 200, timeoutMs: 300, failureThreshold: 2 }),
    retry({
      maxAttempts: 4,
      // Echo only: an attempt timeout is for a call that may be retried. Mutate is not idempotent, so
      // its timed-out attempt would end the call (it may have run); on a loaded machine a process
      // stalled past 400 ms then failed a Mutate that nothing had gone wrong with.
      methods: { Echo: { attemptTimeoutMs: echoAttemptTimeoutMs } },
      retryOn: [Code.UNAVAILABLE, Code.RESOURCE_EXHAUSTED],
      budget: { ratio: 0.5, minPerSecond: 100, windowMs: 10_000 },
    }),
    breaker(),
  ];
}

/** Server-side plugins each provider process loads by module name. */
export function providerPlugins(from: string): ModuleRef[] {
  return [{ module: '@trellis/health', export: 'health', options: {}, from }];
}
