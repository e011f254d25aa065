import { encodeBareFrame, FrameType } from '@trellis/core/internal';
import { startProvider } from '@trellis/testkit';
import type { BadPeerResult } from './result.js';
import { consumerProcess, sleep } from './good-traffic.js';
import { RawPeer } from './raw-peer.js';

/**
 * PING floods from `connections` sockets that reconnect as soon as they are thrown out, against a
 * provider in its own process, while a normal consumer is measured before and during. (Before: 17.5 M
 * PONGs in 5 s; the consumer's p50 went from 0.4 to 36 ms.)
 */
export async function pingFlood(options: { connections: number; durationMs: number }): Promise<BadPeerResult> {
  const failures: string[] = [];
  const provider = await startProvider({ name: 'victim' });
  try {
    const quiet = await consumerProcess(provider.address, 1);
    await sleep(Math.min(2000, options.durationMs / 2));
    const before = await quiet.stop();
    const during = await consumerProcess(provider.address, 1);
    const burst = Buffer.concat(Array.from({ length: 4096 }, () => encodeBareFrame(FrameType.PING, 0, Buffer.alloc(8, 1))));
    let pongs = 0;
    let goAways = 0;
    let connections = 0;
    const reasons = new Set<string>();
    const until = Date.now() + options.durationMs;
    const flooder = async () => {
      while (Date.now() < until) {
        const peer = await RawPeer.connect(provider.port);
        connections++;
        while (!peer.socket.destroyed && Date.now() < until && peer.goAway === undefined) {
          // Reconnects the moment it is told to go (the worst case for the server).
          if (!peer.write(burst)) await Promise.race([new Promise((r) => peer.socket.once('drain', r)), peer.closed, peer.told]);
        }
        peer.destroy();
        await peer.closed;
        pongs += peer.pongs;
        if (peer.goAway) {
          goAways++;
          reasons.add(peer.goAway.message);
        }
      }
    };
    await Promise.all(Array.from({ length: options.connections }, flooder));
    const after = await during.stop();
    if (goAways === 0) failures.push('no flooder was told to stop (GOAWAY)');
    for (const reason of reasons) if (!/maxPingsPerSecond/.test(reason)) failures.push(`unexpected GOAWAY: ${reason}`);
    if (after.errors.length > 0) failures.push(`the normal consumer failed ${after.errors.length} calls: ${after.errors[0]}`);
    return {
      attack: 'PING flood',
      failures,
      lines: [
        `${options.connections} flooders for ${options.durationMs / 1000} s, reconnecting when thrown out: ${connections} connections, ${goAways} GOAWAYs (${[...reasons].join(' | ')}), ${pongs} PONGs in all`,
        `normal consumer p50 ${before.p50Ms.toFixed(2)} ms before, ${after.p50Ms.toFixed(2)} ms during (p99 ${before.p99Ms.toFixed(2)} → ${after.p99Ms.toFixed(2)} ms); ${after.errors.length} of ${after.calls + after.errors.length} calls failed`,
      ],
    };
  } finally {
    await provider.kill('SIGKILL');
  }
}
