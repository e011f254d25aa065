/**
 * The cost of one balancer decision over a 1,000-endpoint list, in process, no network: each
 * balancer's pick() called directly, after a warm-up, in several rounds (the median is reported).
 * LALB is measured with its feedback: every pick's done() is called, 50 picks later (50 calls in
 * flight, as in the load test), with a latency that depends on the endpoint, so the weight tree is
 * updated as it would be in a real client. round-robin and random get the same done() calls (no-ops).
 */
import { performance } from 'node:perf_hooks';
import { ContextValues, RoundRobinBalancer, WeightedRandomBalancer, serviceKey, type Endpoint, type Invocation, type LoadBalancer, type Pick } from '@trellis/core';
import { EMPTY_SET } from '@trellis/core/spi';
import { LocalityAwareBalancer } from '@trellis/lb-lalb';
import type { BalancerName } from './load.js';
import { loadEchoService } from '@trellis/testkit';

export interface PickCostSettings {
  readonly endpoints: number;
  readonly warmupPicks: number;
  readonly picks: number;
  readonly rounds: number;
}

export interface PickCost {
  readonly balancer: BalancerName;
  /** Median over rounds of ns per pick (+ done). */
  readonly nsPerPick: number;
  readonly minNs: number;
  readonly maxNs: number;
}

const IN_FLIGHT = 50;

function endpoints(n: number): Endpoint[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `10.1.${i >> 8}.${i & 255}:7000`,
    host: `10.1.${i >> 8}.${i & 255}`,
    port: 7000,
    weight: 100,
    version: '1.0.0',
    tags: {},
  }));
}

function invocation(): Invocation {
  const definition = loadEchoService();
  return {
    service: serviceKey(definition.name),
    method: { ...Object.values(definition.methods).find((m) => m.name === 'Echo')!, service: definition.name },
    request: {},
    metadata: new Map(),
    deadline: Number.POSITIVE_INFINITY,
    signal: undefined,
    attempt: 1,
    excluded: EMPTY_SET,
    context: new ContextValues(),
  };
}

/** `count` picks with IN_FLIGHT outstanding; returns ns per pick. */
function run(balancer: LoadBalancer, list: readonly Endpoint[], inv: Invocation, count: number, latencyOf: Map<string, number>): number {
  const ring: (Pick | undefined)[] = new Array(IN_FLIGHT).fill(undefined);
  let slot = 0;
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const old = ring[slot];
    if (old !== undefined) old.done({ latencyMs: latencyOf.get(old.endpoint.id)! });
    ring[slot] = balancer.pick(list, inv);
    slot = slot === IN_FLIGHT - 1 ? 0 : slot + 1;
  }
  const elapsed = performance.now() - started;
  for (const pick of ring) pick?.done({ latencyMs: latencyOf.get(pick.endpoint.id)! });
  return (elapsed * 1e6) / count;
}

export function measurePickCost(settings: PickCostSettings): PickCost[] {
  const list = endpoints(settings.endpoints);
  const inv = invocation();
  // Endpoint latencies 1, 2 or 3 ms, so LALB's weights differ as they would in a real cluster.
  const latencyOf = new Map(list.map((e, i) => [e.id, 1 + (i % 3)]));
  const make: Record<BalancerName, () => LoadBalancer> = {
    'round-robin': () => new RoundRobinBalancer(),
    random: () => new WeightedRandomBalancer(),
    lalb: () => new LocalityAwareBalancer(),
  };
  const samples = new Map<BalancerName, number[]>();
  const names = Object.keys(make) as BalancerName[];
  const balancers = new Map(names.map((name) => [name, make[name]()]));
  for (const name of names) run(balancers.get(name)!, list, inv, settings.warmupPicks, latencyOf);
  // Interleaved rounds: a burst of load from elsewhere on the machine hits every balancer alike.
  for (let round = 0; round < settings.rounds; round++) {
    for (const name of names) {
      const ns = run(balancers.get(name)!, list, inv, settings.picks, latencyOf);
      samples.set(name, [...(samples.get(name) ?? []), ns]);
    }
  }
  return names.map((balancer) => {
    const values = [...samples.get(balancer)!].sort((a, b) => a - b);
    return { balancer, nsPerPick: values[values.length >> 1]!, minNs: values[0]!, maxNs: values[values.length - 1]! };
  });
}
