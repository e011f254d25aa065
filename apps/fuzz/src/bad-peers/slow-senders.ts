import { slowSenderAttack } from '@trellis/testkit';
import type { BadPeerResult } from './result.js';
import { againstProvider, providerAndConsumer } from './good-traffic.js';

export interface SlowSenderOptions {
  /** Connections that each send `heldBytes` of a 4 MiB request, then stop (and never finish). */
  readonly holders: number;
  readonly heldBytes: number;
  /** Connections that send one byte of a request every `dribbleEveryMs`. */
  readonly dribblers: number;
  readonly dribbleEveryMs: number;
  /** Give up waiting for the provider to close them after this long. */
  readonly timeoutMs: number;
  readonly rssCeilingMb: number;
}

/**
 * Slowloris after the first frame, against a provider with default options in its own process:
 * peers holding half of a large frame, and peers dribbling a byte at a time. The provider must cap
 * what it holds (maxPartialFrameBytes), close them for their receive rate (minReceiveRate) with a
 * GOAWAY saying so, and keep serving a normal consumer. (Before: 500 holders cost 1.14 GB, and one
 * byte every 2 s kept 50 sockets open indefinitely.)
 */
export async function slowSenders(options: SlowSenderOptions): Promise<BadPeerResult> {
  const failures: string[] = [];
  const run = await againstProvider((port) => slowSenderAttack(port, options));
  const { outcome } = run;
  const open = [...outcome.holderClosedMs, ...outcome.dribblerClosedMs].filter((t) => t === Infinity).length;
  if (open > 0) failures.push(`${open} slow connections were still open after ${options.timeoutMs / 1000} s`);
  for (const reason of outcome.reasons) if (!/minReceiveRate/.test(reason)) failures.push(`a slow sender was closed without the minReceiveRate reason: ${reason}`);
  const common = providerAndConsumer(run, options.rssCeilingMb);
  failures.push(...common.failures);
  const latest = (list: number[]) => (Math.max(0, ...list.filter((t) => t !== Infinity)) / 1000).toFixed(1);
  return {
    attack: 'slow senders (partial frames held, bytes dribbled)',
    failures,
    lines: [
      `${options.holders} connections each sent ${(options.heldBytes / 1048576).toFixed(1)} MiB of a 4 MiB request and stopped: ${outcome.refused} were refused for that call (maxPartialFrameBytes), all closed within ${latest(outcome.holderClosedMs)} s`,
      `${options.dribblers} connections sent a byte every ${options.dribbleEveryMs} ms: all closed within ${latest(outcome.dribblerClosedMs)} s`,
      `GOAWAY reasons: ${outcome.reasons.join(' | ')}`,
      ...common.lines,
    ],
  };
}
