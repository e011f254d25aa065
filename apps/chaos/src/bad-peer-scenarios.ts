import {
  nonReadingAttack, oversizedFrameAttack, pingFloodAttack, rssMb, rssPeak, slowSenderAttack,
} from '@trellis/testkit';
import { Cluster } from './cluster.js';
import { summarize, type ScenarioSummary } from './report.js';
import type { RunOptions } from './scenarios.js';
import { drive } from './traffic.js';

/**
 * Bad peers: raw sockets attack one provider of the cluster while the consumer's steady traffic runs
 * (through all three). The consumer must lose no call; the attacked provider's memory is reported
 * against its resting RSS, and what each attacker was told.
 */
async function underAttack(
  name: string,
  options: RunOptions,
  durationMs: number,
  attack: (port: number) => Promise<string[]>,
): Promise<ScenarioSummary> {
  const cluster = await Cluster.start('etcd', 3, options);
  try {
    const victim = cluster.providers[0]!;
    const t0 = performance.now();
    const baseline = rssMb(victim.pid);
    const peak = rssPeak(victim.pid);
    const [records, notes] = await Promise.all([
      drive(cluster.client, { rate: options.rate, durationMs }, t0),
      (async () => {
        await new Promise((r) => setTimeout(r, 1000));
        options.log(`  attacking ${victim.name}`);
        return attack(victim.port);
      })(),
    ]);
    const peakMb = peak.stop();
    notes.push(`${victim.name} RSS ${baseline.toFixed(0)} MB before, peak ${peakMb.toFixed(0)} MB during the attack (+${(peakMb - baseline).toFixed(0)} MB)`);
    return summarize(name, records, 1000, notes);
  } finally {
    await cluster.close();
  }
}

export const BAD_PEER_SCENARIOS: Record<string, (options: RunOptions) => Promise<ScenarioSummary>> = {
  async '7 bad peers: non-reading, oversized frames, PING flood'(options) {
    const attackMs = options.long ? 60_000 : 5000;
    return underAttack('7 bad peers (memory, flood)', options, attackMs + 3000, async (port) => {
      const [nonReading, oversized, flood] = await Promise.all([
        nonReadingAttack(port, { connections: 4, requestBytes: 1024 * 1024, durationMs: attackMs }),
        oversizedFrameAttack(port, { rounds: 5, overBytes: 5 * 1024 * 1024 }),
        pingFloodAttack(port, { connections: 5, durationMs: attackMs }),
      ]);
      return [
        `non-reading: 4 connections wrote ${nonReading.requestsWritten} requests of 1 MiB and read nothing; a 4 MiB PING was told "${nonReading.bigPingAnswer}"`,
        `a peer ignoring the limits: ${oversized.refusedPerCall} of 5 oversized requests refused per call, ${oversized.answered} of 5 ordinary ones after them answered on the same connection${oversized.goAway ? `, GOAWAY ${oversized.goAway}` : ''}`,
        `PING flood: ${flood.connections} connections, ${flood.goAways} GOAWAYs (${flood.reasons.join(' | ')}), ${flood.pongs} PONGs`,
      ];
    });
  },

  async '8 bad peers: slowloris (held partial frames, dribblers)'(options) {
    return underAttack('8 bad peers (slowloris)', options, options.long ? 40_000 : 16_000, async (port) => {
      const outcome = await slowSenderAttack(port, {
        holders: options.long ? 500 : 150, heldBytes: 2 * 1024 * 1024, dribblers: 50, dribbleEveryMs: 2000, timeoutMs: 30_000,
      });
      const latest = (list: number[]) => (Math.max(0, ...list) / 1000).toFixed(1);
      return [
        `${outcome.holderClosedMs.length} connections held 2 MiB of a 4 MiB request: ${outcome.refused} refused for that call (maxPartialFrameBytes), all closed within ${latest(outcome.holderClosedMs)} s`,
        `${outcome.dribblerClosedMs.length} connections sent a byte every 2 s: all closed within ${latest(outcome.dribblerClosedMs)} s`,
        `told: ${outcome.reasons.join(' | ')}`,
      ];
    });
  },
};
