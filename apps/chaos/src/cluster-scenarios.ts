import { serviceKey, type InstanceInfo, type ServiceKey } from '@trellis/core';
import { ECHO_SERVICE_NAME, startProvider, type ProviderProcess } from '@trellis/testkit';
import type { RegistryKind } from './cluster.js';
import { FLEET_TTL_MS, RegistryFleet } from './registry-fleet.js';
import { summarize, type ScenarioSummary } from './report.js';
import type { RunOptions } from './scenarios.js';
import { drive, type CallRecord } from './traffic.js';

/** A cluster scenario's summary: the call figures, and what the registry cluster did for the fleet. */
export interface ClusterSummary extends ScenarioSummary {
  readonly registry: RegistryKind;
  /**
   * Per consumer: ms from the moment the cluster served again (new leader up, quorum back, or the
   * change itself when the cluster never stopped serving) until its directory listed the provider
   * registered during the fault; null if it never did.
   */
  readonly changeSeenMs: (number | null)[];
  /** After the whole cluster was down: ms from quorum back until a fresh registry listed every provider. */
  readonly registeredAgainMs?: number | null;
  /** …and whether every provider was still listed 2 × TTL after quorum came back (no lease or session lost). */
  readonly stillRegisteredAfter2Ttl?: boolean;
  /** Registry errors the provider processes reported during the scenario (lost leases, expired sessions…). */
  readonly providerErrors: string[];
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const SERVICE: ServiceKey = serviceKey(ECHO_SERVICE_NAME);

interface Fault {
  readonly faultAt: number;
  readonly notes: string[];
  readonly changeSeenMs?: (number | null)[];
  readonly registeredAgainMs?: number | null;
  readonly stillRegisteredAfter2Ttl?: boolean;
}

/**
 * Steady traffic from every consumer of the fleet (the rate shared between them) for `durationMs`,
 * with `fault` running alongside; every call of every consumer is recorded.
 */
async function withFleetTraffic(name: string, fleet: RegistryFleet, options: RunOptions, durationMs: number, fault: (t0: number) => Promise<Fault>): Promise<ClusterSummary> {
  const errorsBefore = fleet.providers.map((p) => p.errors.length);
  const t0 = performance.now();
  const rate = options.rate / fleet.consumers.length;
  const [records, result] = await Promise.all([
    Promise.all(fleet.consumers.map((c) => drive(c.client, { rate, durationMs }, t0))).then((all) => all.flat().sort((a, b) => a.at - b.at) as CallRecord[]),
    fault(t0),
  ]);
  const providerErrors = fleet.providers.flatMap((p, i) => p.errors.slice(errorsBefore[i] ?? 0).map((e) => `${p.name}: ${e}`));
  const notes = [...result.notes];
  const failed = new Map<string, number>();
  for (const record of records) if (!record.ok) failed.set(record.error ?? '?', (failed.get(record.error ?? '?') ?? 0) + 1);
  if (failed.size > 0) notes.push(`failed calls: ${[...failed].map(([message, n]) => `${n} × ${message}`).join('; ')} (providers: ${fleet.providers.map((p) => `${p.name} ${p.port}`).join(', ')})`);
  const lost = providerErrors.filter((e) => /ERR_REGISTRY_(LEASE_LOST|SESSION_EXPIRED)/.test(e));
  notes.push(`registry errors in the provider processes: ${providerErrors.length} (${lost.length} lost leases or sessions)`);
  return {
    ...summarize(`${name} (${fleet.kind})`, records, result.faultAt, notes),
    registry: fleet.kind,
    changeSeenMs: result.changeSeenMs ?? [],
    registeredAgainMs: result.registeredAgainMs,
    stillRegisteredAfter2Ttl: result.stillRegisteredAfter2Ttl,
    providerErrors,
  };
}

/**
 * A provider change issued at the worst moment: an echo provider that runs unregistered until then is
 * registered through a registry of its own, so the change reaches the cluster exactly when asked. That
 * registry has registered something before (a placeholder service), as a provider process would have:
 * a registry that never reached its cluster fails a register() it cannot make within its connect
 * timeout (a wrong address must fail start-up), while one that has keeps retrying in the background.
 */
class PendingChange {
  private constructor(
    readonly provider: ProviderProcess,
    private readonly registry: ReturnType<RegistryFleet['makeRegistry']>,
  ) {}

  static async prepare(fleet: RegistryFleet, name: string): Promise<PendingChange> {
    const provider = await startProvider({ name, behaviour: { delayMs: 20 } });
    fleet.providers.push(provider);
    const registry = fleet.makeRegistry();
    await registry.register(serviceKey('chaos.Placeholder'), instance(provider.port));
    return new PendingChange(provider, registry);
  }

  /** Registers the provider; resolves when the registry has it (or, during an outage, has queued it). */
  register(): Promise<void> {
    return this.registry.register(SERVICE, instance(this.provider.port));
  }

  async close(): Promise<void> {
    await this.registry.close();
  }
}

function instance(port: number): InstanceInfo {
  return { host: '127.0.0.1', port, weight: 100, version: SERVICE.version, tags: {}, protocol: 'trellis', startedAt: Date.now() };
}

const fmt = (values: readonly (number | null | undefined)[]): string => values.map((v) => (v == null ? 'never' : `${Math.round(v)} ms`)).join(', ');

/** kill -9 the leader under traffic; a provider registers during the election. */
export async function leaderKill(fleet: RegistryFleet, options: RunOptions): Promise<ClusterSummary> {
  const duration = options.long ? 30_000 : 10_000;
  const change = await PendingChange.prepare(fleet, `added-${fleet.kind}-leader`);
  try {
    return await withFleetTraffic('leader killed', fleet, options, duration, async (t0) => {
      await sleep(options.long ? 5000 : 2000);
      const leader = await fleet.cluster.waitForLeader();
      const faultAt = performance.now() - t0;
      await fleet.cluster.kill(leader);
      const registering = change.register();
      const watching = fleet.whenListed(change.provider.port);
      const listedFrom = performance.now();
      const newLeader = await fleet.cluster.waitForNewLeader(leader);
      const leaderUp = performance.now();
      options.log(`  ${fleet.kind}: killed leader ${fleet.cluster.members[leader]!.name} at ${(faultAt / 1000).toFixed(1)} s; ${fleet.cluster.members[newLeader]!.name} leads ${Math.round(leaderUp - listedFrom)} ms later`);
      await registering;
      const seen = (await watching).map((ms) => (ms === undefined ? null : ms + listedFrom - leaderUp));
      await sleep(Math.max(0, duration * 0.6 - (performance.now() - t0)));
      await fleet.cluster.start(leader);
      await fleet.cluster.waitForAllServing();
      options.log(`  ${fleet.kind}: ${fleet.cluster.members[leader]!.name} back`);
      return {
        faultAt,
        changeSeenMs: seen,
        notes: [`a provider registered during the election reached the consumers ${fmt(seen)} after the new leader was up (target ≤ 2 s)`],
      };
    });
  } finally {
    await change.close();
  }
}

/** One member cut off from its peers (its client port still reachable); a provider registers meanwhile. */
export async function partitionMember(fleet: RegistryFleet, options: RunOptions): Promise<ClusterSummary> {
  const duration = options.long ? 40_000 : 14_000;
  const change = await PendingChange.prepare(fleet, `added-${fleet.kind}-partition`);
  try {
    return await withFleetTraffic('member partitioned', fleet, options, duration, async (t0) => {
      await sleep(options.long ? 5000 : 2000);
      // The member most consumers use: the one whose cut-off hurts.
      const before = await fleet.consumerMembers();
      const counts = fleet.cluster.members.map((m) => before.filter((b) => b === m.index).length);
      const victim = counts.indexOf(Math.max(...counts));
      const faultAt = performance.now() - t0;
      fleet.cluster.partition(victim);
      options.log(`  ${fleet.kind}: ${fleet.cluster.members[victim]!.name} cut off from its peers (${counts[victim]} of ${fleet.consumers.length} consumers on it) at ${(faultAt / 1000).toFixed(1)} s`);
      // The change, once the member has noticed it is alone (an election timeout or a sync limit).
      await sleep(2000);
      const changedAt = performance.now();
      const watching = fleet.whenListed(change.provider.port);
      await change.register();
      const seen = (await watching).map((ms) => (ms === undefined ? null : ms));
      const after = await fleet.consumerMembers();
      const checkedMs = performance.now() - changedAt;
      const stayed = after.filter((m) => m === victim).length;
      await sleep(Math.max(0, duration * 0.7 - (performance.now() - t0)));
      fleet.cluster.heal();
      await fleet.cluster.waitForAllServing();
      options.log(`  ${fleet.kind}: healed after ${((performance.now() - t0 - faultAt) / 1000).toFixed(1)} s`);
      return {
        faultAt,
        changeSeenMs: seen,
        notes: [
          `consumers on the cut-off member: ${counts[victim]} before, ${stayed} once every consumer had the change (${Math.round(checkedMs)} ms after it)`,
          `a provider registered during the partition reached the consumers ${fmt(seen)} after it was registered`,
        ],
      };
    });
  } finally {
    await change.close();
  }
}

/** Every member restarted (SIGTERM, start), one at a time, each once the cluster serves again. */
export async function rollingRestart(fleet: RegistryFleet, options: RunOptions): Promise<ClusterSummary> {
  const pause = options.long ? 5000 : 1500;
  return withFleetTraffic('rolling restart', fleet, options, (pause + 4000) * fleet.cluster.size + pause, async (t0) => {
    await sleep(pause);
    const faultAt = performance.now() - t0;
    await fleet.cluster.rollingRestart(async (index) => {
      options.log(`  ${fleet.kind}: ${fleet.cluster.members[index]!.name} restarted at ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      await sleep(pause);
    });
    const ports = fleet.providers.filter((p) => !p.name.startsWith('added-')).map((p) => p.port);
    const registered = await fleet.registered(ports);
    return { faultAt, notes: [`${registered} of ${ports.length} providers listed by a fresh registry afterwards`] };
  });
}

/** The whole cluster down (SIGKILL, data kept), then back; providers must be listed within 2 × TTL of quorum. */
export async function wholeClusterDown(fleet: RegistryFleet, options: RunOptions): Promise<ClusterSummary> {
  const outage = options.long ? 30_000 : 5000;
  const ports = fleet.providers.filter((p) => !p.name.startsWith('added-')).map((p) => p.port);
  return withFleetTraffic('whole cluster down', fleet, options, outage + 2 * FLEET_TTL_MS + 8000, async (t0) => {
    await sleep(2000);
    const faultAt = performance.now() - t0;
    await fleet.cluster.stopAll();
    options.log(`  ${fleet.kind}: every member killed at ${(faultAt / 1000).toFixed(1)} s, down for ${outage / 1000} s`);
    await sleep(outage);
    await fleet.cluster.startAll();
    const quorumAt = performance.now();
    options.log(`  ${fleet.kind}: quorum back ${((quorumAt - t0 - faultAt) / 1000).toFixed(1)} s after the kill`);
    let registeredAgainMs: number | null = null;
    while (performance.now() - quorumAt < 2 * FLEET_TTL_MS) {
      if ((await fleet.registered(ports, 2000)) === ports.length) {
        registeredAgainMs = performance.now() - quorumAt;
        break;
      }
      await sleep(250);
    }
    await sleep(Math.max(0, quorumAt + 2 * FLEET_TTL_MS - performance.now()));
    const still = (await fleet.registered(ports)) === ports.length;
    return {
      faultAt,
      registeredAgainMs,
      stillRegisteredAfter2Ttl: still,
      notes: [
        `every provider listed by a fresh registry ${registeredAgainMs === null ? 'NOT within 2 × TTL' : `${Math.round(registeredAgainMs)} ms`} after quorum was back (TTL ${FLEET_TTL_MS / 1000} s, target ≤ ${2 * FLEET_TTL_MS / 1000} s); ${still ? 'all still listed' : 'NOT all listed'} 2 × TTL later`,
      ],
    };
  });
}

type ClusterScenario = (fleet: RegistryFleet, options: RunOptions) => Promise<ClusterSummary>;

/** Runs scenarios one after another on one fresh fleet, which is closed afterwards whatever happens. */
async function onFleet(kind: RegistryKind, scenarios: readonly ClusterScenario[], options: RunOptions): Promise<ClusterSummary[]> {
  const fleet = await RegistryFleet.start(kind, { providers: 3, consumers: 3, attemptTimeoutMs: options.attemptTimeoutMs });
  try {
    const summaries: ClusterSummary[] = [];
    for (const scenario of scenarios) summaries.push(await scenario(fleet, options));
    return summaries;
  } finally {
    await fleet.close();
  }
}

/** The short cluster run (npm test): one cluster per registry, a leader kill then a partition on it. */
export function shortClusterRun(kind: RegistryKind, options: RunOptions): Promise<ClusterSummary[]> {
  return onFleet(kind, [leaderKill, partitionMember], { ...options, long: false });
}

/** Registered in the fault suite's list (apps/chaos/src/scenarios.ts): `pnpm chaos --cluster`. */
export const CLUSTER_SCENARIOS: Record<string, (options: RunOptions) => Promise<ScenarioSummary>> = {};
const SCENARIO_LIST: [string, ClusterScenario][] = [
  ['leader killed', leaderKill],
  ['member partitioned', partitionMember],
  ['rolling restart', rollingRestart],
  ['whole cluster down', wholeClusterDown],
];
let number = 0;
for (const kind of ['etcd', 'zookeeper'] as const) {
  for (const [name, scenario] of SCENARIO_LIST) {
    CLUSTER_SCENARIOS[`c${++number} ${kind} cluster: ${name}`] = async (options) => (await onFleet(kind, [scenario], options))[0]!;
  }
}
