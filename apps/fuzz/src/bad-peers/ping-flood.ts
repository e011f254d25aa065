import { pingFloodAttack, startProvider } from '@trellis/testkit';
import type { BadPeerResult } from './result.js';
import { consumerProcess, sleep } from './good-traffic.js';

/**
 * PING floods from `connections` sockets that reconnect as soon as they are thrown out, against a
 * provider in its own process, while a normal consumer (its own process) is measured before and
 * during. (Before: 17.5 M PONGs in 5 s; the consumer's p50 went from 0.4 to 36 ms.)
 */
export async function pingFlood(options: { connections: number; durationMs: number }): Promise<BadPeerResult> {
  const failures: string[] = [];
  const provider = await startProvider({ name: 'victim' });
  try {
    const quiet = await consumerProcess(provider.address, 1);
    await sleep(Math.min(2000, options.durationMs / 2));
    const before = await quiet.stop();
    const during = await consumerProcess(provider.address, 1);
    const outcome = await pingFloodAttack(provider.port, options);
    const after = await during.stop();
    if (outcome.goAways === 0) failures.push('no flooder was told to stop (GOAWAY)');
    for (const reason of outcome.reasons) if (!/maxPingsPerSecond/.test(reason)) failures.push(`unexpected GOAWAY: ${reason}`);
    if (after.errors.length > 0) failures.push(`the normal consumer failed ${after.errors.length} calls: ${after.errors[0]}`);
    return {
      attack: 'PING flood',
      failures,
      lines: [
        `${options.connections} flooders for ${options.durationMs / 1000} s, reconnecting when thrown out: ${outcome.connections} connections, ${outcome.goAways} GOAWAYs (${outcome.reasons.join(' | ')}), ${outcome.pongs} PONGs in all`,
        `normal consumer p50 ${before.p50Ms.toFixed(2)} ms before, ${after.p50Ms.toFixed(2)} ms during (p99 ${before.p99Ms.toFixed(2)} → ${after.p99Ms.toFixed(2)} ms); ${after.errors.length} of ${after.calls + after.errors.length} calls failed`,
      ],
    };
  } finally {
    await provider.kill('SIGKILL');
  }
}
