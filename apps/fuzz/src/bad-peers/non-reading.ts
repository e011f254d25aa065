import { nonReadingAttack } from '@trellis/testkit';
import type { BadPeerResult } from './result.js';
import { againstProvider, providerAndConsumer } from './good-traffic.js';

export interface NonReadingOptions {
  readonly durationMs: number;
  /** Attacking connections, each writing requests of `requestBytes` and never reading. */
  readonly connections: number;
  readonly requestBytes: number;
  /** The provider's RSS may grow by at most this much over its warm baseline. */
  readonly rssCeilingMb: number;
}

/**
 * Peers that send large requests (and a PING with a 4 MiB body) and never read the answers, against
 * a provider in its own process: its RSS must stay under the ceiling while a normal consumer keeps
 * being served. (Before the fix the provider buffered 1.2–1.5 GB: RSS 1.4 GB against 58 MB at rest.)
 */
export async function nonReadingPeer(options: NonReadingOptions): Promise<BadPeerResult> {
  const failures: string[] = [];
  const run = await againstProvider((port) => nonReadingAttack(port, options));
  const { outcome } = run;
  if (!/PING must carry exactly 8 bytes/.test(outcome.bigPingAnswer ?? '')) failures.push(`a PING with a 4 MiB body was not refused: ${outcome.bigPingAnswer}`);
  const common = providerAndConsumer(run, options.rssCeilingMb);
  failures.push(...common.failures);
  const mib = options.requestBytes / 1048576;
  return {
    attack: 'non-reading peer',
    failures,
    lines: [
      `${options.connections} connections wrote ${outcome.requestsWritten} requests of ${mib.toFixed(1)} MiB (${(outcome.requestsWritten * mib).toFixed(0)} MiB) in ${options.durationMs / 1000} s and read nothing`,
      ...common.lines,
      `a PING with a 4 MiB body: ${outcome.bigPingAnswer ?? 'not refused'}`,
    ],
  };
}
