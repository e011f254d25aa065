/**
 * The cost of one balancer decision over a 1,000-endpoint list, in process, no network: each
 * balancer's pick() called directly, after a warm-up, in several rounds (the median is reported).
 * Every pick's done() is called 50 picks later (50 calls in flight, as in the load test) with a
 * latency that depends on the endpoint, so LALB's weight tree, P2C's estimates and the hash
 * balancer's in-flight counts are updated as in a real client (round-robin's and random's done()
 * are no-ops). The calls carry 1,000 different `id`s, which the hash balancers hash.
 */
import { performance } from 'node:perf_hooks';
import { RoundRobinBalancer, WeightedRandomBalancer, type Endpoint, type Invocation, type LoadBalancer, type Pick } from '@trellis/core';
import { LocalityAwareBalancer } from '@trellis/lb-lalb';
import { ConsistentHashBalancer } from '@trellis/lb-hash';
import { P2cBalancer } from '@trellis/lb-p2c';
import { testInvocation } from '@trellis/testkit';
import { median } from '@trellis/core/toolkit';

export const PICK_COST_BALANCERS = ['round-robin', 'random', 'lalb', 'p2c', 'hash-ring', 'hash-maglev'] as const;
export type PickCostBalancer = (typeof PICK_COST_BALANCERS)[number];

export interface PickCostSettings {
  readonly endpoints: number;
  readonly warmupPicks: number;
  readonly picks: number;
  readonly rounds: number;
}

export interface PickCost {
  readonly balancer: PickCostBalancer;
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

/** `count` picks with IN_FLIGHT outstanding; returns ns per pick. */
function run(balancer: LoadBalancer, list: readonly Endpoint[], invocations: readonly Invocation[], count: number, latencyOf: Map<string, number>): number {
  const ring: (Pick | undefined)[] = new Array(IN_FLIGHT).fill(undefined);
  let slot = 0;
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const old = ring[slot];
    if (old !== undefined) old.done({ latencyMs: latencyOf.get(old.endpoint.id)! });
    ring[slot] = balancer.pick(list, invocations[i % invocations.length]!);
    slot = slot === IN_FLIGHT - 1 ? 0 : slot + 1;
  }
  const elapsed = performance.now() - started;
  for (const pick of ring) pick?.done({ latencyMs: latencyOf.get(pick.endpoint.id)! });
  return (elapsed * 1e6) / count;
}

export function measurePickCost(settings: PickCostSettings): PickCost[] {
  const list = endpoints(settings.endpoints);
  const invocations = Array.from({ length: 1000 }, (_, i) => testInvocation({ request: { id: `user-${i}` } }));
  // Endpoint latencies 1, 2 or 3 ms, so LALB's weights and P2C's estimates differ as in a real cluster.
  const latencyOf = new Map(list.map((e, i) => [e.id, 1 + (i % 3)]));
  const make: Record<PickCostBalancer, () => LoadBalancer> = {
    'round-robin': () => new RoundRobinBalancer(),
    random: () => new WeightedRandomBalancer(),
    lalb: () => new LocalityAwareBalancer(),
    p2c: () => new P2cBalancer(),
    'hash-ring': () => new ConsistentHashBalancer({ field: 'id' }),
    'hash-maglev': () => new ConsistentHashBalancer({ field: 'id', algorithm: 'maglev' }),
  };
  const samples = new Map<PickCostBalancer, number[]>();
  const names = [...PICK_COST_BALANCERS];
  const balancers = new Map(names.map((name) => [name, make[name]()]));
  for (const name of names) run(balancers.get(name)!, list, invocations, settings.warmupPicks, latencyOf);
  // Interleaved rounds: a burst of load from elsewhere on the machine hits every balancer alike.
  for (let round = 0; round < settings.rounds; round++) {
    for (const name of names) {
      const ns = run(balancers.get(name)!, list, invocations, settings.picks, latencyOf);
      samples.set(name, [...(samples.get(name) ?? []), ns]);
    }
  }
  return names.map((balancer) => {
    const values = samples.get(balancer)!;
    return { balancer, nsPerPick: median(values), minNs: Math.min(...values), maxNs: Math.max(...values) };
  });
}

export interface TableBuildCost {
  readonly table: 'ring' | 'maglev';
  readonly endpoints: number;
  /** Median of the rounds: building the table when the list changes (ms). */
  readonly ms: number;
}

/**
 * What a list change costs the hash balancer: its table is built once per list (a directory change,
 * or a routed list seen for the first time), timed here by handing a fresh balancer the list.
 */
export function measureTableBuild(endpointCount: number, rounds: number): TableBuildCost[] {
  const list = endpoints(endpointCount);
  const invocation = testInvocation({ request: { id: 'user-1' } });
  return (['ring', 'maglev'] as const).map((table) => {
    const samples: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const balancer = new ConsistentHashBalancer({ field: 'id', algorithm: table });
      const started = performance.now();
      balancer.pick(list, invocation)!.done({ latencyMs: 1 });
      samples.push(performance.now() - started);
    }
    return { table, endpoints: endpointCount, ms: median(samples) };
  });
}
