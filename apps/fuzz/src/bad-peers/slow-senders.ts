import { startProvider } from '@trellis/testkit';
import type { BadPeerResult } from './result.js';
import { consumerProcess, rssMb, rssPeak, sleep } from './good-traffic.js';
import { echoFrame, RawPeer } from './raw-peer.js';

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
  const provider = await startProvider({ name: 'victim' });
  try {
    const good = await consumerProcess(provider.address);
    await sleep(500);
    const baseline = rssMb(provider.pid);
    const peak = rssPeak(provider.pid);
    const started = performance.now();
    const frame = echoFrame(1, 4 * 1024 * 1024 - 64);
    const held = frame.subarray(0, options.heldBytes);
    const holders: RawPeer[] = [];
    for (let i = 0; i < options.holders; i++) {
      const holder = await RawPeer.connect(provider.port);
      holder.write(held);
      holders.push(holder);
    }
    const dribblers = await Promise.all(Array.from({ length: options.dribblers }, () => RawPeer.connect(provider.port)));
    let sent = 0;
    const dribble = setInterval(() => {
      for (const d of dribblers) if (!d.socket.destroyed) d.write(frame.subarray(sent, sent + 1));
      sent++;
    }, options.dribbleEveryMs);
    const closedAt = async (peers: RawPeer[]) => {
      const times = await Promise.all(peers.map((p) => Promise.race([p.closed.then(() => performance.now() - started), sleep(options.timeoutMs).then(() => Infinity)])));
      return times;
    };
    const [holderTimes, dribblerTimes] = await Promise.all([closedAt(holders), closedAt(dribblers)]);
    clearInterval(dribble);
    const peakMb = peak.stop();
    const traffic = await good.stop();
    const refused = holders.filter((h) => h.responses > 0).length;
    const reasons = new Set([...holders, ...dribblers].map((p) => p.goAway?.message.replace(/\d+ bytes\/s/, 'N bytes/s') ?? 'no GOAWAY'));
    const open = [...holderTimes, ...dribblerTimes].filter((t) => t === Infinity).length;
    holders.forEach((h) => h.destroy());
    dribblers.forEach((d) => d.destroy());
    if (open > 0) failures.push(`${open} slow connections were still open after ${options.timeoutMs / 1000} s`);
    for (const reason of reasons) if (!/minReceiveRate/.test(reason)) failures.push(`a slow sender was closed without the minReceiveRate reason: ${reason}`);
    const growth = peakMb - baseline;
    if (growth > options.rssCeilingMb) failures.push(`provider RSS grew by ${growth.toFixed(0)} MB (ceiling ${options.rssCeilingMb} MB)`);
    if (traffic.errors.length > 0) failures.push(`the normal consumer failed ${traffic.errors.length} calls: ${traffic.errors[0]}`);
    const max = (times: number[]) => (Math.max(...times.filter((t) => t !== Infinity), 0) / 1000).toFixed(1);
    return {
      attack: 'slow senders (partial frames held, bytes dribbled)',
      failures,
      lines: [
        `${options.holders} connections each sent ${(options.heldBytes / 1048576).toFixed(1)} MiB of a 4 MiB request and stopped: ${refused} were refused for that call (maxPartialFrameBytes), all closed within ${max(holderTimes)} s`,
        `${options.dribblers} connections sent a byte every ${options.dribbleEveryMs} ms: all closed within ${max(dribblerTimes)} s`,
        `GOAWAY reasons: ${[...reasons].join(' | ')}`,
        `provider RSS ${baseline.toFixed(0)} MB at rest, peak ${peakMb.toFixed(0)} MB (+${growth.toFixed(0)} MB; ceiling +${options.rssCeilingMb} MB)`,
        `normal consumer meanwhile: ${traffic.calls} calls, ${traffic.errors.length} failed, p50 ${traffic.p50Ms.toFixed(2)} ms, p99 ${traffic.p99Ms.toFixed(2)} ms`,
      ],
    };
  } finally {
    await provider.kill('SIGKILL');
  }
}
