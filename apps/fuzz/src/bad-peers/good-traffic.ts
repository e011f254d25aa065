import { fork } from 'node:child_process';
import { join } from 'node:path';
import { RpcClient } from '@trellis/core';
import { loadEchoService, rssMb, rssPeak, startProvider } from '@trellis/testkit';
import { percentiles } from '@trellis/core/toolkit';

export interface TrafficResult {
  readonly calls: number;
  readonly errors: string[];
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/**
 * A well-behaved consumer calling in a closed loop (`lanes` calls outstanding) until stop() — the
 * "other callers" whose experience each bad-peer target reports.
 */
export function goodTraffic(address: string, lanes = 4): { reset(): void; stop(): Promise<TrafficResult> } {
  const client = new RpcClient({ service: loadEchoService(), addresses: [address], timeoutMs: 5000 });
  const latencies: number[] = [];
  const errors: string[] = [];
  let running = true;
  const lane = async (n: number) => {
    for (let i = 0; running; i++) {
      const started = performance.now();
      try {
        const reply = (await client.invoke('Echo', { message: `good ${n}.${i}` })) as { message: string };
        if (reply.message !== `good ${n}.${i}`) errors.push(`wrong answer ${reply.message}`);
        latencies.push(performance.now() - started);
      } catch (error) {
        errors.push((error as Error).message);
      }
    }
  };
  const done = Promise.all(Array.from({ length: lanes }, (_, n) => lane(n)));
  return {
    reset() {
      latencies.length = 0;
      errors.length = 0;
    },
    async stop() {
      running = false;
      await done;
      await client.close();
      const [p50Ms, p99Ms] = latencies.length === 0 ? [0, 0] : percentiles(latencies, [50, 99]);
      return { calls: latencies.length, errors, p50Ms: p50Ms!, p99Ms: p99Ms! };
    },
  };
}

/**
 * goodTraffic in a process of its own (dist/bad-peers/consumer-main.js: build first, as npm test
 * does), so the attacker's work in this process does not show up as the consumer's latency.
 */
export async function consumerProcess(address: string, lanes = 4): Promise<{ stop(): Promise<TrafficResult> }> {
  const child = fork(join(__dirname, '..', '..', 'dist', 'bad-peers', 'consumer-main.js'), [address, String(lanes)], { execArgv: [] });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`the consumer process exited with ${code}`)));
  });
  return {
    stop: () => new Promise<TrafficResult>((resolve) => {
      child.once('message', (result: TrafficResult) => resolve(result));
      child.send('stop');
    }),
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface AttackRun<T> {
  readonly outcome: T;
  /** The provider's RSS when warm and at rest, and its peak during the attack (MB). */
  readonly baselineMb: number;
  readonly peakMb: number;
  /** The normal consumer's calls during the attack. */
  readonly traffic: TrafficResult;
}

/**
 * Starts a provider (default options, its own process) and a normal consumer (another process),
 * runs `attack` on the provider's port, and reports the provider's memory and the consumer's calls.
 */
export async function againstProvider<T>(attack: (port: number) => Promise<T>): Promise<AttackRun<T>> {
  const provider = await startProvider({ name: 'victim' });
  try {
    const good = await consumerProcess(provider.address);
    await sleep(500);
    const baselineMb = rssMb(provider.pid);
    const peak = rssPeak(provider.pid);
    const outcome = await attack(provider.port);
    const peakMb = peak.stop();
    return { outcome, baselineMb, peakMb, traffic: await good.stop() };
  } finally {
    await provider.kill('SIGKILL');
  }
}

/**
 * What every attack on a provider checks besides its own findings: the provider's RSS grew by at
 * most `rssCeilingMb` over its resting baseline, and the normal consumer had no failed call; with
 * the two report lines that say so.
 */
export function providerAndConsumer(run: AttackRun<unknown>, rssCeilingMb: number): { failures: string[]; lines: string[] } {
  const { baselineMb, peakMb, traffic } = run;
  const growth = peakMb - baselineMb;
  const failures: string[] = [];
  if (growth > rssCeilingMb) failures.push(`provider RSS grew by ${growth.toFixed(0)} MB (ceiling ${rssCeilingMb} MB)`);
  if (traffic.errors.length > 0) failures.push(`the normal consumer failed ${traffic.errors.length} calls: ${traffic.errors[0]}`);
  return {
    failures,
    lines: [
      `provider RSS ${baselineMb.toFixed(0)} MB at rest, peak ${peakMb.toFixed(0)} MB (+${growth.toFixed(0)} MB; ceiling +${rssCeilingMb} MB)`,
      `normal consumer meanwhile: ${traffic.calls} calls, ${traffic.errors.length} failed, p50 ${traffic.p50Ms.toFixed(2)} ms, p99 ${traffic.p99Ms.toFixed(2)} ms`,
    ],
  };
}
