import { largeFrames } from './large-frames.js';
import { nonReadingPeer } from './non-reading.js';
import { oversizeBothWays } from './oversize.js';
import { pingFlood } from './ping-flood.js';
import type { BadPeerResult } from './result.js';
import { slowSenders } from './slow-senders.js';

export type { BadPeerResult } from './result.js';

/** Sizes of the bad-peer targets: `short` for the test suite, the default for `pnpm fuzz`. */
export function badPeerPlan(short: boolean) {
  return {
    oversizeRounds: short ? 2 : 10,
    nonReading: { durationMs: short ? 3000 : 10_000, connections: short ? 2 : 4, requestBytes: 1024 * 1024, rssCeilingMb: 160 },
    slow: short
      ? { holders: 60, heldBytes: 2 * 1024 * 1024, dribblers: 20, dribbleEveryMs: 2000, timeoutMs: 20_000, rssCeilingMb: 160 }
      : { holders: 500, heldBytes: 2 * 1024 * 1024, dribblers: 50, dribbleEveryMs: 2000, timeoutMs: 30_000, rssCeilingMb: 160 },
    flood: { connections: short ? 2 : 10, durationMs: short ? 2000 : 5000 },
    frames: { sizesMiB: short ? [4, 16] : [4, 16, 32, 64], socketMiB: short ? 16 : 64 },
  };
}

/** Runs every bad-peer target in turn (they measure a provider process each: never in parallel). */
export async function runBadPeers(short: boolean, log: (line: string) => void = () => {}): Promise<BadPeerResult[]> {
  const plan = badPeerPlan(short);
  const results: BadPeerResult[] = [];
  const run = async (target: () => Promise<BadPeerResult>) => {
    const result = await target();
    log(`  ${result.attack}${result.failures.length ? ` — ${result.failures.length} FAILURES` : ''}`);
    for (const line of result.lines) log(`    ${line}`);
    for (const failure of result.failures) log(`    FAILED: ${failure}`);
    results.push(result);
  };
  await run(() => oversizeBothWays(plan.oversizeRounds));
  await run(() => nonReadingPeer(plan.nonReading));
  await run(() => slowSenders(plan.slow));
  await run(() => pingFlood(plan.flood));
  await run(() => largeFrames(plan.frames.sizesMiB, plan.frames.socketMiB));
  return results;
}
