/**
 * The Trellis demo: three provider processes and one consumer. Steady traffic for a few seconds; in
 * the middle one provider is stopped gracefully (SIGTERM → deregister, GOAWAY, drain); the consumer
 * moves on without a single failed call. Ends with a summary table.
 *
 *   npm start                         embedded default: a static address list
 *   npm start -- --registry etcd      a real etcd (started locally unless --etcd URL is given)
 *   npm start -- --duration 20 --rate 2000
 */
import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { RpcClient, type Registry } from '@trellis/core';
import { startProvider, type ProviderHandle } from './cluster.js';
import { loadGreeter, type GreeterClient } from './greeter.js';
import { createRegistry, type RegistryChoice } from './registry-choice.js';
import { TrafficStats } from './stats.js';

const started = performance.now();
const log = (message: string): void => console.log(`[${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${message}`);

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      registry: { type: 'string', default: 'static' },
      etcd: { type: 'string' },
      duration: { type: 'string', default: '10' },
      rate: { type: 'string', default: '1000' },
    },
  });
  const durationMs = Number(values.duration) * 1000;
  const rate = Number(values.rate);
  if (!(durationMs > 0) || !(rate > 0)) throw new Error('--duration and --rate must be positive numbers');
  if (values.registry !== 'static' && values.registry !== 'etcd') throw new Error(`--registry must be "static" or "etcd", not "${values.registry}"`);

  // Torn down in this order: consumer, registry client, providers (they deregister), etcd last.
  const cleanups: (() => Promise<unknown>)[] = [];
  const last: (() => Promise<unknown>)[] = [];
  let choice: RegistryChoice = { kind: 'static' };
  if (values.registry === 'etcd') {
    let endpoints = values.etcd;
    if (!endpoints) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { startEtcd } = require('@trellis/testkit') as typeof import('@trellis/testkit');
      const etcd = await startEtcd();
      last.push(() => etcd.stop());
      endpoints = etcd.endpoints;
      log(`started a local etcd at ${endpoints}`);
    }
    choice = { kind: 'etcd', endpoints };
  }

  log(`starting 3 Greeter providers (registry: ${choice.kind})`);
  const providers = await Promise.all(['p1', 'p2', 'p3'].map((name) => startProvider({ name, registry: choice, delayMs: 0 })));
  last.unshift(() => Promise.all(providers.map((p) => p.child.exitCode === null ? p.stop() : undefined)));
  const byAddress = new Map(providers.map((p) => [p.address, p.name]));
  for (const p of providers) log(`  ${p.name} listening on ${p.address}`);

  let registry: Registry | undefined;
  if (choice.kind !== 'static') {
    registry = createRegistry(choice);
    cleanups.push(() => registry!.close());
  }
  const client = new RpcClient({
    service: loadGreeter(),
    ...(registry ? { registry } : { addresses: providers.map((p) => p.address) }),
    timeoutMs: 2000,
    caller: 'demo-consumer',
  });
  cleanups.unshift(() => client.close());
  client.healthView.onChange((change) => {
    log(`  endpoint ${change.endpoint.id} (${byAddress.get(change.endpoint.id) ?? '?'}): ${change.from} → ${change.to} — ${change.reason}`);
  });
  const greeter = client.stub<GreeterClient>();
  await client.waitForReady({ timeoutMs: 10_000, minEndpoints: providers.length });

  const stats = new TrafficStats();
  const notes = new Map<string, string>();
  log(`sending ~${rate} calls/s for ${durationMs / 1000} s (SayHello, Count, Remember)`);
  const victim: ProviderHandle = providers[1]!;
  setTimeout(() => {
    log(`stopping ${victim.name} gracefully (SIGTERM): deregister, GOAWAY, finish in-flight calls`);
    void victim.stop().then((drainedMs) => {
      log(`  ${victim.name} exited after draining for ${drainedMs} ms`);
      notes.set(victim.name, `stopped gracefully at ${(durationMs / 2000).toFixed(1)} s`);
    });
  }, durationMs / 2).unref();

  await drive(greeter, stats, rate, durationMs);
  log('traffic done');
  console.log(`\nSummary — 3 providers, 1 consumer, ${choice.kind} registry, ${durationMs / 1000} s\n`);
  console.log(stats.table(notes));
  console.log(stats.errors.length === 0 ? '\nNo call failed across the graceful stop.' : `\n${stats.errors.length} calls failed.`);
  for (const cleanup of [...cleanups, ...last]) await cleanup();
  return stats.errors.length === 0 ? 0 : 1;
}

/** Paced open-loop traffic: `rate` calls per second in 10 ms slices, mixing the three methods. */
async function drive(greeter: GreeterClient, stats: TrafficStats, rate: number, durationMs: number): Promise<void> {
  const inflight = new Set<Promise<void>>();
  let n = 0;
  const begin = performance.now();
  const end = begin + durationMs;
  while (performance.now() < end) {
    // Owed calls follow the clock, not the number of slices: timers run late, the rate must not.
    const owed = Math.floor(((performance.now() - begin) / 1000) * rate);
    while (n < owed) {
      const i = n++;
      const t0 = performance.now();
      const call = i % 10 === 0 ? greeter.remember({ name: `user${i % 100}` })
        : i % 3 === 0 ? greeter.count({ text: 'the quick brown fox' })
        : greeter.sayHello({ name: `user${i % 100}` });
      const p: Promise<void> = call.then(
        (reply) => stats.record(performance.now() - t0, reply.servedBy),
        (error: Error) => stats.fail(error.message),
      ).finally(() => inflight.delete(p));
      inflight.add(p);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await Promise.all(inflight);
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(`demo failed: ${error.message}`);
    process.exit(1);
  },
);
