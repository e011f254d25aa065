import { Code, type Invocation, type LoadBalancer, type Pick, type PickOutcome, type RpcError } from '@trellis/core';
import { DEFAULT_WEIGHT, type Clock, type Endpoint } from '@trellis/core/spi';
import { MAX_WEIGHT, WEIGHT_SCALE } from './constants.js';
import { EndpointStats, errorLatencyUs } from './endpoint-stats.js';
import { resolveLalbOptions, type LalbOptions, type ResolvedLalbOptions } from './options.js';
import { WeightTree } from './weight-tree.js';

/** One endpoint's row in `LocalityAwareBalancer.snapshot()`. */
export interface EndpointSnapshot {
  readonly id: string;
  /** The weight picks use now: LALB's weight × endpoint.weight / 100 (brpc fixed-point units). */
  readonly weight: number;
  /** qps × WEIGHT_SCALE / avg latency (µs), before the in-flight punishment and the floor. */
  readonly baseWeight: number;
  /** weight / sum of all weights: the endpoint's expected share of the next picks. */
  readonly share: number;
  /** Average over the window of completed calls, errors folded in; 0 before the first call. */
  readonly avgLatencyMs: number;
  /** The qps the base weight was computed from (1 until the window can measure a rate). */
  readonly qps: number;
  readonly inflight: number;
  /** Mean age of the calls in flight (0 when none). */
  readonly inflightDelayMs: number;
}

interface Entry {
  endpoint: Endpoint;
  readonly id: string;
  readonly stats: EndpointStats;
  /** endpoint.weight / 100: how a warm-up ramp (or an operator) scales LALB's own weight. */
  multiplier: number;
  /** LALB's weight as last added into `rawTotal`. */
  raw: number;
  /** Position in the tree; -1 once the endpoint left the list. */
  index: number;
  /** Generation of the last list that contained the endpoint. */
  seen: number;
}

type DoneHandler = (entry: Entry, beginUs: number, invocation: Invocation, outcome: PickOutcome) => void;

/**
 * Retries are rare, so landing on an excluded endpoint is too: a few more draws almost always
 * succeed, and the linear pass behind them keeps the worst case bounded at O(N).
 */
const MAX_DRAWS = 8;

/**
 * Locality-aware load balancing, ported from brpc: each endpoint's weight is the qps it served
 * divided by its average latency over its last calls, cut while its in-flight calls run late, and
 * a pick is a weighted random draw over a tree of weight sums in O(log N). Faster endpoints win
 * more calls until their latency rises to match the others'.
 */
export class LocalityAwareBalancer implements LoadBalancer {
  readonly name = 'lalb';
  private readonly options: ResolvedLalbOptions;
  private readonly clock: Clock;
  private readonly random: () => number;
  /** Clock reading at construction; times are µs since then, which keeps in-flight sums small. */
  private readonly epochMs: number;
  private readonly tree = new WeightTree();
  /** entries[i] is the endpoint at tree node i. */
  private readonly entries: Entry[] = [];
  private readonly byId = new Map<string, Entry>();
  private list: readonly Endpoint[] | undefined;
  private generation = 0;
  /** Sum of LALB's own weights (before multipliers): the base of "the average weight". */
  private rawTotal = 0;
  private readonly onDone: DoneHandler = (entry, beginUs, invocation, outcome) =>
    this.feedback(entry, beginUs, invocation, outcome);

  constructor(options: LalbOptions = {}) {
    this.options = resolveLalbOptions(options);
    this.clock = this.options.clock;
    this.random = this.options.random;
    this.epochMs = this.clock.now();
  }

  pick(list: readonly Endpoint[], invocation: Invocation): Pick | undefined {
    // The directory hands over the same array until the endpoints change: only then re-sync.
    if (list !== this.list) this.reconcile(list);
    const n = this.entries.length;
    if (n === 0) return undefined;
    const excluded = invocation.excluded;
    const nowUs = this.nowUs();
    const draws = n < MAX_DRAWS ? n : MAX_DRAWS;
    for (let draw = 0; draw < draws; draw++) {
      const total = this.tree.total;
      if (total <= 0) break;
      const index = this.tree.locate(Math.floor(this.random() * total));
      if (index < 0) break;
      const entry = this.entries[index]!;
      if (excluded.size !== 0 && excluded.has(entry.id)) continue;
      const offset = this.tree.offset;
      // brpc `AddInflight`: the punishment is re-evaluated on the endpoint the dice landed on. If
      // its weight shrank below the dice, the dice now points past it: draw again.
      if (offset < this.refresh(entry, nowUs)) return this.choose(entry, nowUs, invocation);
    }
    return this.pickLinear(excluded, nowUs, invocation);
  }

  /** A read-only view of every endpoint's weight and statistics, in list order. */
  snapshot(): EndpointSnapshot[] {
    const nowUs = this.nowUs();
    const total = this.tree.total;
    const rows: EndpointSnapshot[] = [];
    const listed = new Set<string>();
    for (const endpoint of this.list ?? []) {
      const entry = this.byId.get(endpoint.id);
      if (entry === undefined || listed.has(entry.id)) continue;
      listed.add(entry.id);
      const stats = entry.stats;
      const weight = this.tree.weightAt(entry.index);
      rows.push({
        id: entry.id,
        weight,
        baseWeight: stats.baseWeight,
        share: total > 0 ? weight / total : 0,
        avgLatencyMs: stats.avgLatencyUs / 1000,
        qps: stats.qps,
        inflight: stats.inflight,
        inflightDelayMs: stats.inflightDelayUs(nowUs) / 1000,
      });
    }
    return rows;
  }

  private nowUs(): number {
    return Math.round((this.clock.now() - this.epochMs) * 1000);
  }

  /**
   * Brings the tree in line with a new list. Endpoints keep their learned state by id; those gone
   * are removed (brpc deletes their weight too); new ones start at the average weight of the others
   * (brpc `Add`), so they get a fair share at once and learn from there.
   */
  private reconcile(list: readonly Endpoint[]): void {
    const generation = ++this.generation;
    for (const endpoint of list) {
      const entry = this.byId.get(endpoint.id);
      if (entry !== undefined) entry.seen = generation;
    }
    for (const entry of this.byId.values()) if (entry.seen !== generation) this.remove(entry);
    for (const endpoint of list) {
      const entry = this.byId.get(endpoint.id);
      if (entry === undefined) this.add(endpoint, generation);
      else if (entry.endpoint !== endpoint) {
        entry.endpoint = endpoint;
        entry.multiplier = multiplierOf(endpoint);
        this.commit(entry);
      }
    }
    this.list = list;
  }

  private add(endpoint: Endpoint, generation: number): void {
    const n = this.entries.length;
    const initial = n === 0 ? WEIGHT_SCALE : clampWeight(Math.floor(this.rawTotal / n), this.options.minWeight);
    const entry: Entry = {
      endpoint,
      id: endpoint.id,
      stats: new EndpointStats(initial, this.options),
      multiplier: multiplierOf(endpoint),
      raw: 0,
      index: this.tree.push(0),
      seen: generation,
    };
    this.entries.push(entry);
    this.byId.set(entry.id, entry);
    this.commit(entry);
  }

  private remove(entry: Entry): void {
    this.tree.removeAt(entry.index);
    // Mirror the tree: its last node moved into the hole.
    const last = this.entries.pop()!;
    if (last !== entry) {
      this.entries[entry.index] = last;
      last.index = entry.index;
    }
    this.rawTotal -= entry.raw;
    entry.index = -1;
    this.byId.delete(entry.id);
  }

  /** Pushes the entry's current weight into the tree and the raw total. */
  private commit(entry: Entry): void {
    const raw = entry.stats.weight;
    this.rawTotal += raw - entry.raw;
    entry.raw = raw;
    this.tree.set(entry.index, Math.min(MAX_WEIGHT, Math.floor(raw * entry.multiplier)));
  }

  /** Re-evaluates the in-flight punishment now; returns the weight picks see. */
  private refresh(entry: Entry, nowUs: number): number {
    entry.stats.resetWeight(nowUs);
    this.commit(entry);
    return this.tree.weightAt(entry.index);
  }

  private choose(entry: Entry, nowUs: number, invocation: Invocation): Pick {
    entry.stats.addInflight(nowUs);
    return new LalbPick(entry.endpoint, entry, nowUs, invocation, this.onDone);
  }

  /**
   * After the bounded draws: a weighted choice among the endpoints not excluded, by a linear pass.
   * Unlike brpc, which on its last try would take an excluded server rather than fail, an excluded
   * endpoint is never returned: Trellis's retry excludes endpoints that already failed this call.
   */
  private pickLinear(excluded: ReadonlySet<string>, nowUs: number, invocation: Invocation): Pick | undefined {
    const entries = this.entries;
    let sum = 0;
    let eligible = 0;
    for (let i = 0; i < entries.length; i++) {
      if (excluded.has(entries[i]!.id)) continue;
      sum += this.tree.weightAt(i);
      eligible++;
    }
    if (eligible === 0) return undefined;
    // All remaining weights 0 (endpoint.weight 0): still serve the call, uniformly.
    let dice = Math.floor(this.random() * (sum > 0 ? sum : eligible));
    let chosen: Entry | undefined;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      if (excluded.has(entry.id)) continue;
      chosen = entry;
      dice -= sum > 0 ? this.tree.weightAt(i) : 1;
      if (dice < 0) break;
    }
    this.refresh(chosen!, nowUs);
    return this.choose(chosen!, nowUs, invocation);
  }

  /** brpc `Feedback` / `Weight::Update`, plus `MarkFailed` for endpoints that cannot be reached. */
  private feedback(entry: Entry, beginUs: number, invocation: Invocation, outcome: PickOutcome): void {
    // Gone from the list since the pick: its state is gone too (brpc drops such feedback as well).
    if (entry.index < 0) return;
    const stats = entry.stats;
    const endUs = this.nowUs();
    stats.removeInflight(beginUs);
    const error = outcome.error;
    if (error !== undefined && error.code === Code.CANCELLED) {
      // The caller gave up: that says nothing about the endpoint (brpc would count it as an error).
      this.refresh(entry, endUs);
      return;
    }
    const latencyUs =
      Number.isFinite(outcome.latencyMs) && outcome.latencyMs > 0
        ? Math.round(outcome.latencyMs * 1000)
        : endUs - beginUs;
    // brpc ignores a non-positive latency (clock skew) rather than learn from it.
    if (latencyUs <= 0) return;
    let updated: boolean;
    if (error === undefined) {
      updated = entry.stats.recordSuccess(latencyUs, endUs);
    } else {
      const timeoutUs = this.timeoutUs(invocation, beginUs, latencyUs);
      const penalised = errorLatencyUs(
        latencyUs,
        timeoutUs,
        invocation.attempt - 1,
        this.options.maxRetry(invocation),
        this.options.punishErrorRatio,
      );
      updated = stats.recordError(penalised, timeoutUs, endUs);
    }
    if (updated) this.refresh(entry, endUs);
    if (error !== undefined && isUnreachable(error)) {
      if (stats.capBaseWeight(Math.floor(this.rawTotal / this.entries.length))) this.refresh(entry, endUs);
    }
  }

  /**
   * brpc punishes with the call's timeout; here that is the time this attempt had until the call's
   * deadline. Without a deadline there is no timeout to charge, so the error costs latency × ratio.
   */
  private timeoutUs(invocation: Invocation, beginUs: number, latencyUs: number): number {
    const remainingMs = invocation.deadline - (this.epochMs + beginUs / 1000);
    if (Number.isFinite(remainingMs) && remainingMs > 0) return Math.round(remainingMs * 1000);
    return Math.floor(latencyUs * this.options.punishErrorRatio);
  }
}

/** A Pick per call: LALB needs the begin time to track the call while it is in flight. */
class LalbPick implements Pick {
  private finished = false;

  constructor(
    readonly endpoint: Endpoint,
    private readonly entry: Entry,
    private readonly beginUs: number,
    private readonly invocation: Invocation,
    private readonly onDone: DoneHandler,
  ) {}

  done(outcome: PickOutcome): void {
    // Exactly once by contract; a second call must not take another call out of the in-flight sums.
    if (this.finished) return;
    this.finished = true;
    this.onDone(this.entry, this.beginUs, this.invocation, outcome);
  }
}

/** Not reachable at all (refused, not connected): the request provably never ran there. */
function isUnreachable(error: RpcError): boolean {
  return error.code === Code.UNAVAILABLE && !error.mayHaveRun;
}

/** endpoint.weight relative to the default 100; a missing or invalid weight counts as 100. */
function multiplierOf(endpoint: Endpoint): number {
  const weight = endpoint.weight;
  return typeof weight === 'number' && Number.isFinite(weight) && weight >= 0 ? weight / DEFAULT_WEIGHT : 1;
}

function clampWeight(weight: number, minWeight: number): number {
  return weight < minWeight ? minWeight : weight > MAX_WEIGHT ? MAX_WEIGHT : weight;
}
