import { encodeBareFrame, FrameType } from '@trellis/core/internal';
import { startProvider } from '@trellis/testkit';
import type { BadPeerResult } from './result.js';
import { consumerProcess, rssMb, rssPeak, sleep } from './good-traffic.js';
import { echoFrame, RawPeer } from './raw-peer.js';

export interface NonReadingOptions {
  readonly durationMs: number;
  /** Attacking connections, each writing requests of `requestBytes` and never reading. */
  readonly connections: number;
  readonly requestBytes: number;
  /** The provider's RSS may grow by at most this much over its warm baseline. */
  readonly rssCeilingMb: number;
}

/**
 * Peers that send large requests (and PINGs with 4 MiB bodies) and never read the answers, against
 * a provider in its own process: its RSS must stay under the ceiling while a normal consumer keeps
 * being served. (Before the fix the provider buffered 1.2–1.5 GB: RSS 1.4 GB against 58 MB at rest.)
 */
export async function nonReadingPeer(options: NonReadingOptions): Promise<BadPeerResult> {
  const failures: string[] = [];
  const provider = await startProvider({ name: 'victim' });
  try {
    const good = await consumerProcess(provider.address);
    await sleep(500);
    const baseline = rssMb(provider.pid);
    const peak = rssPeak(provider.pid);
    const attackers = await Promise.all(Array.from({ length: options.connections }, () => RawPeer.connect(provider.port)));
    attackers.forEach((a) => a.stopReading());
    const bigPing = await RawPeer.connect(provider.port);
    bigPing.write(Buffer.concat([encodeBareFrame(FrameType.PING, 0, Buffer.alloc(8)).subarray(0, 12), Buffer.from([0, 0x40, 0, 0]), Buffer.alloc(4 * 1024 * 1024)]));
    const frame = echoFrame(1, options.requestBytes);
    let written = 0;
    const until = Date.now() + options.durationMs;
    let streamId = 1;
    while (Date.now() < until) {
      for (const attacker of attackers) {
        // Keeps a few MiB queued on its side at all times: the server decides how much it reads.
        while (attacker.socket.writableLength < 4 * 1024 * 1024 && !attacker.socket.destroyed) {
          frame.writeUInt32BE((streamId = (streamId + 2) & 0x7fffffff), 8);
          attacker.write(Buffer.from(frame));
          written++;
        }
      }
      await sleep(20);
    }
    const peakMb = peak.stop();
    const traffic = await good.stop();
    attackers.forEach((a) => a.destroy());
    await bigPing.closed;
    if (!bigPing.goAway || !/PING must carry exactly 8 bytes/.test(bigPing.goAway.message)) failures.push(`a PING with a 4 MiB body was not refused: ${bigPing.goAway?.message}`);
    const growth = peakMb - baseline;
    if (growth > options.rssCeilingMb) failures.push(`provider RSS grew by ${growth.toFixed(0)} MB (ceiling ${options.rssCeilingMb} MB)`);
    if (traffic.errors.length > 0) failures.push(`the normal consumer failed ${traffic.errors.length} calls: ${traffic.errors[0]}`);
    return {
      attack: 'non-reading peer',
      failures,
      lines: [
        `${options.connections} connections wrote ${written} requests of ${(options.requestBytes / 1048576).toFixed(1)} MiB (${(written * options.requestBytes / 1048576).toFixed(0)} MiB) in ${options.durationMs / 1000} s and read nothing`,
        `provider RSS ${baseline.toFixed(0)} MB at rest, peak ${peakMb.toFixed(0)} MB (+${growth.toFixed(0)} MB; ceiling +${options.rssCeilingMb} MB)`,
        `normal consumer meanwhile: ${traffic.calls} calls, ${traffic.errors.length} failed, p50 ${traffic.p50Ms.toFixed(2)} ms, p99 ${traffic.p99Ms.toFixed(2)} ms`,
        `a PING with a 4 MiB body: ${bigPing.goAway?.message ?? 'not refused'}`,
      ],
    };
  } finally {
    await provider.kill('SIGKILL');
  }
}
