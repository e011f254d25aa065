/**
 * A benchmark provider process: the testkit's EchoService on a real RpcServer, with an injected
 * service time that the benchmark can change while it runs, and a record of the service time each
 * call really got. The testkit's own provider injects its delay with setTimeout, whose 1 ms
 * granularity stretches 1 / 2 / 3 ms to means of 1.3–1.6 / 2.3–2.6 / 3.4–3.7 ms on a busy 2-core
 * machine; `precise` mode (PreciseTimer) hits the target, `timer` mode is the testkit's way.
 *
 * With `jitter`, each call's service time is drawn around the target with the same mean. Exactly
 * equal service times put a single-threaded provider into lockstep: the calls that arrived in one
 * read all end in the same instant, their replies are encoded one after the other, and the client
 * sends the next calls together again, so every call waits for the whole batch on both sides (about
 * 8 µs per call in flight; 0.5 ms for 50 calls). Real services vary and break such convoys up.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { RpcServer } from '@trellis/core';
import { createEchoHandlers, loadEchoService, type EchoRequest } from '@trellis/testkit';
import { PreciseTimer } from './precise-timer.js';
import type { FromProvider, ProviderArgs, ServiceTimeStats, ToProvider } from './provider-protocol.js';
import { percentileOfSorted } from '@trellis/core/toolkit';

const send = (message: FromProvider): void => void process.send?.(message);

function summarise(samples: Float64Array, n: number): ServiceTimeStats {
  if (n === 0) return { calls: 0, meanMs: 0, p50Ms: 0, p99Ms: 0 };
  const sorted = samples.slice(0, n).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  return { calls: n, meanMs: sum / n, p50Ms: percentileOfSorted(sorted, 50), p99Ms: percentileOfSorted(sorted, 99) };
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2]!) as ProviderArgs;
  let delayMs = args.delayMs;
  const timer = args.delay === 'precise' ? new PreciseTimer() : undefined;
  let samples = new Float64Array(1 << 16);
  let count = 0;
  const handlers = createEchoHandlers({ servedBy: args.name });
  const echo = handlers.echo;
  const server = new RpcServer({ host: '127.0.0.1', port: 0 });
  server.addService(loadEchoService(), {
    echo: async (request: EchoRequest, call: Parameters<typeof echo>[1]) => {
      const started = performance.now();
      const serviceMs = args.jitter > 0 ? delayMs * (1 - args.jitter + 2 * args.jitter * Math.random()) : delayMs;
      if (serviceMs > 0) await (timer ? timer.delay(serviceMs) : sleep(serviceMs));
      if (count === samples.length) {
        const grown = new Float64Array(samples.length * 2);
        grown.set(samples);
        samples = grown;
      }
      samples[count++] = performance.now() - started;
      return echo(request, call);
    },
    mutate: handlers.mutate,
  });
  await server.start();
  process.on('message', (message: ToProvider) => {
    if (message.type === 'delay') {
      delayMs = message.ms;
      send({ type: 'delay-set' });
    } else if (message.type === 'stats') {
      // Each answer covers the calls since the previous question: one phase of the benchmark.
      send({ type: 'stats', stats: summarise(samples, count) });
      count = 0;
    }
  });
  process.on('SIGTERM', () => {
    void server.close({ graceMs: 1000 }).then(() => process.exit(0));
  });
  // The benchmark is gone: do not linger holding a port.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', port: server.port });
}

main().catch((error: Error) => {
  send({ type: 'failed', message: error.stack ?? error.message });
  process.exit(1);
});
