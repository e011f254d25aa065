import { Code, type Invocation, type LoadBalancer, type Pick, type PickOutcome, type RpcError } from '@trellis/core';
import type { Clock, Endpoint } from '@trellis/core/spi';
import {
  DEFAULT_QPS,
  FORGET_AFTER_US,
  LIST_IDLE_US,
  MAX_WEIGHT,
  REBASE_AFTER_US,
  REFRESH_INTERVAL_US,
  VIEW_CAP,
  WEIGHT_SCALE,
} from './constants.js';
import { EndpointStats, errorLatencyUs, type TrafficRate } from './endpoint-stats.js';
import { ListView, type Membership, type TrackedEndpoint } from './list-view.js';
import { resolveLalbOptions, type LalbOptions, type ResolvedLalbOptions } from './options.js';
import { FastRandom } from './fast-random.js';

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
  /**
   * The rate the base weight was computed from: the measured rate relative to the mean, compressed
   * by `rateExponent`, and floored (1, or the rate floor, until the window can measure one).
   */
  readonly qps: number;
  /** The rate the window measured (calls / s), before any of that; 0 while it cannot measure one. */
  readonly measuredQps: number;
  readonly inflight: number;
  /** Mean age of the calls in flight (0 when none). */
  readonly inflightDelayMs: number;
}

/** How the outcomes a balancer is told of were timed (the constructor's second argument). */
export interface BalancerTiming {
  /**
   * True when every outcome's `latencyMs` was measured on the balancer's own clock (`options.clock`),
   * and a pick's `now` is a reading of it: feedback and picks then read no clock of their own.
   */
  readonly outcomesOnBalancerClock: boolean;
}

type DoneHandler = (member: Membership, beginUs: number, invocation: Invocation, outcome: PickOutcome) => void;

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
  /** The `random` option, or undefined for `fastRandom`. */
  private readonly random: (() => number) | undefined;
  /** The default generator: its fraction stays unboxed where Math.random's is a heap number per pick. */
  private readonly fastRandom = new FastRandom();
  /**
   * Clock reading times are µs since: construction, moved up every REBASE_AFTER_US (see rebase),
   * which keeps times and in-flight sums small integers.
   */
  private epochMs: number;
  /** µs the epoch has moved up in all: a LalbPick's begin is kept relative to the first epoch. */
  private shiftedUs = 0;
  /** The clock reading at which the epoch moves up next (epochMs + REBASE_AFTER_US). */
  private rebaseAtMs = 0;
  /** What LALB learned, by endpoint id, shared by the lists (kept a while after the last one goes). */
  private readonly tracked = new Map<string, TrackedEndpoint>();
  /** One view (weight tree) per list the routers handed over, by identity. */
  private readonly views = new Map<readonly Endpoint[], ListView>();
  private lastList: readonly Endpoint[] | undefined;
  private view: ListView | undefined;
  /**
   * The mean measured qps per endpoint, which every endpoint's rate term is relative to, and the
   * floor of every endpoint's rate (minQps: minQpsRatio × the mean), which the stats read from here.
   */
  private readonly traffic: Required<TrafficRate> = { meanQps: 0, minQps: DEFAULT_QPS };
  /** Whether the periodic refresh has work to do (off in brpc's exact configuration). */
  private readonly periodic: boolean;
  private nextRefreshUs = 0;
  /** See the constructor's `timing`. */
  private readonly outcomesOnBalancerClock: boolean;
  private readonly onDone: DoneHandler = (member, firstEpochBeginUs, invocation, outcome) =>
    this.feedback(member, firstEpochBeginUs - this.shiftedUs, invocation, outcome);

  /**
   * `timing.outcomesOnBalancerClock`: the picks' outcomes are timed on this balancer's clock (the
   * plugin gives it the client's clock, the one the kernel times attempts on). An attempt's end is
   * then its begin plus its latency, and feedback reads no clock (one `performance.now()` less per
   * call). The pick reads none either when the kernel hands over its attempt-start reading (`pick`'s
   * `now`): the begin is then the kernel's own, and the end the kernel's end reading exactly.
   */
  constructor(options: LalbOptions = {}, timing: BalancerTiming = { outcomesOnBalancerClock: false }) {
    this.outcomesOnBalancerClock = timing.outcomesOnBalancerClock;
    this.options = resolveLalbOptions(options);
    this.clock = this.options.clock;
    this.random = this.options.random;
    this.epochMs = this.clock.now();
    this.rebaseAtMs = this.epochMs + REBASE_AFTER_US / 1000;
    this.periodic =
      this.options.minQpsRatio > 0 || this.options.maxSampleAgeUs !== Number.POSITIVE_INFINITY || this.options.rateExponent !== 1;
  }

  pick(list: readonly Endpoint[], invocation: Invocation, now?: number): Pick | undefined {
    // The kernel's reading of the attempt's start, when this balancer runs on the client's clock.
    const kernelTimed = this.outcomesOnBalancerClock && now !== undefined;
    const nowUs = kernelTimed ? Math.round((now - this.epochMs) * 1000) : this.pickNowUs();
    // Routers hand over the same array for the same outcome: only a different one needs a lookup.
    if (list !== this.lastList) this.switchTo(list, nowUs);
    const view = this.view!;
    view.lastUsedUs = nowUs;
    const n = view.members.length;
    if (n === 0) return undefined;
    if (this.periodic && nowUs >= this.nextRefreshUs) this.refreshAll(nowUs);
    const excluded = invocation.excluded;
    const tree = view.tree;
    const fastRandom = this.fastRandom;
    const draws = n < MAX_DRAWS ? n : MAX_DRAWS;
    for (let draw = 0; draw < draws; draw++) {
      const total = tree.total;
      if (total <= 0) break;
      // The default generator's FastRandom.fraction(), written out: only small integers cross a call,
      // so the fraction is never a heap number, whatever V8 inlines into pick (a fraction returned
      // by a call it did not inline is boxed: Math.random's always was, 16 B per pick).
      const random = this.random;
      const unit = random === undefined ? (fastRandom.next30() * 8388608 + (fastRandom.next30() >>> 7)) / 9007199254740992 : random();
      const index = tree.locate(Math.floor(unit * total));
      if (index < 0) break;
      const member = view.members[index]!;
      if (excluded.size !== 0 && excluded.has(member.tracked.id)) continue;
      const offset = tree.offset;
      // brpc `AddInflight`: the punishment is re-evaluated on the endpoint the dice landed on. If
      // its weight shrank below the dice, the dice now points past it: draw again.
      this.refresh(member, nowUs);
      if (offset < tree.weightAt(index)) return this.choose(member, nowUs, invocation, kernelTimed);
    }
    return this.pickLinear(view, excluded, nowUs, invocation, kernelTimed);
  }

  /**
   * A read-only view of the weights and statistics. With a list: its endpoints, in list order, each
   * `share` within that list. Without: every endpoint LALB tracks (those of every list picked from
   * lately), in the order first seen, each `share` within the list it was last picked from.
   */
  snapshot(list?: readonly Endpoint[]): EndpointSnapshot[] {
    const nowUs = this.nowUs();
    if (list !== undefined) {
      const view = this.views.get(list);
      return view === undefined ? [] : view.members.map((member) => this.row(member, nowUs));
    }
    const rows: EndpointSnapshot[] = [];
    for (const tracked of this.tracked.values()) {
      // In no list picked from lately: remembered, but there is no share to show.
      if (tracked.memberships.length === 0) continue;
      let latest = tracked.memberships[0]!;
      // On a tie the list created later wins: memberships are in creation order.
      for (const member of tracked.memberships) if (member.view.lastUsedUs >= latest.view.lastUsedUs) latest = member;
      rows.push(this.row(latest, nowUs));
    }
    return rows;
  }

  private row(member: Membership, nowUs: number): EndpointSnapshot {
    const stats = member.tracked.stats;
    const weight = member.view.tree.weightAt(member.index);
    const total = member.view.tree.total;
    return {
      id: member.tracked.id,
      weight,
      baseWeight: stats.baseWeight,
      share: total > 0 ? weight / total : 0,
      avgLatencyMs: stats.avgLatencyUs / 1000,
      qps: stats.qps,
      measuredQps: stats.measuredQps,
      inflight: stats.inflight,
      inflightDelayMs: stats.inflightDelayUs(nowUs) / 1000,
    };
  }

  /**
   * Moves the epoch up to `nowUs` and every stored time down by as much (exact: integers), so the
   * algorithm sees the same differences. Calls in flight stay consistent: the kernel's outcome
   * carries its start reading, which feedback converts with the new epoch, and a LalbPick keeps its
   * begin relative to the first epoch (shiftedUs). Called where no time of the old epoch is still
   * held: before a pick reads its own time (pickNowUs), or before the kernel's outcome is converted
   * (the shared Pick's `done`), never from inside feedback.
   */
  private rebase(): void {
    // A fixed step, known in advance: no time crosses a call, and all the arithmetic stays exact.
    const deltaUs = REBASE_AFTER_US;
    this.epochMs += deltaUs / 1000;
    this.rebaseAtMs = this.epochMs + deltaUs / 1000;
    this.shiftedUs += deltaUs;
    this.nextRefreshUs -= deltaUs;
    for (const view of this.views.values()) view.lastUsedUs -= deltaUs;
    for (const tracked of this.tracked.values()) {
      tracked.lastListedUs -= deltaUs;
      tracked.stats.shiftTimes(deltaUs);
    }
  }

  /** A pick's own clock reading (not the kernel's), moving the epoch up first when it is due. */
  private pickNowUs(): number {
    let nowUs = this.nowUs();
    while (nowUs >= REBASE_AFTER_US) {
      this.rebase();
      nowUs -= REBASE_AFTER_US;
    }
    return nowUs;
  }

  private nowUs(): number {
    return Math.round((this.clock.now() - this.epochMs) * 1000);
  }

  private switchTo(list: readonly Endpoint[], nowUs: number): void {
    let view = this.views.get(list);
    if (view === undefined && this.view !== undefined && this.view.sameEndpoints(list)) {
      // A router that builds a new array for the same outcome on every call (the SPI asks routers
      // to return the same one): keep the view, under the new array, instead of a view per call.
      view = this.view;
      this.views.delete(view.list);
      view.list = list;
      this.views.set(list, view);
    }
    this.view = view ?? this.createView(list, nowUs);
    this.lastList = list;
  }

  /**
   * A list seen for the first time. Endpoints LALB already tracks (from other lists) bring what it
   * learned about them; new ones start at the average weight of the others (brpc `Add`, one at a
   * time, so with nothing known they all start at WEIGHT_SCALE), get a fair share at once and learn
   * from there.
   */
  private createView(list: readonly Endpoint[], nowUs: number): ListView {
    // The list being switched away from is idle like any other now.
    this.dropIdleViews(nowUs, VIEW_CAP - 1, undefined);
    const view = new ListView(list, nowUs);
    let knownSum = 0;
    let count = 0;
    const seen = new Set<string>();
    for (const endpoint of list) {
      const tracked = this.tracked.get(endpoint.id);
      if (tracked !== undefined && !seen.has(endpoint.id)) {
        knownSum += tracked.raw;
        count++;
      }
      seen.add(endpoint.id);
    }
    seen.clear();
    for (const endpoint of list) {
      // A duplicated id counts once.
      if (seen.has(endpoint.id)) continue;
      seen.add(endpoint.id);
      let tracked = this.tracked.get(endpoint.id);
      if (tracked === undefined) {
        const initial = count === 0 ? WEIGHT_SCALE : clampWeight(Math.floor(knownSum / count), this.options.minWeight);
        knownSum += initial;
        count++;
        tracked = {
          id: endpoint.id,
          stats: new EndpointStats(initial, this.options, this.traffic),
          raw: initial,
          memberships: [],
          lastListedUs: nowUs,
          dropped: false,
        };
        this.tracked.set(tracked.id, tracked);
      }
      view.add(tracked, endpoint);
    }
    this.views.set(list, view);
    return view;
  }

  /**
   * Drops the lists not picked from for LIST_IDLE_US, then the least recently used ones beyond
   * `keep`. Then forgets the endpoints that have been in no list picked from for FORGET_AFTER_US:
   * they left the directory (brpc deletes their weight too), or no route leads to them any more.
   */
  private dropIdleViews(nowUs: number, keep: number, inUse: ListView | undefined): void {
    for (const view of this.views.values()) {
      if (view !== inUse && nowUs - view.lastUsedUs > LIST_IDLE_US) this.dropView(view);
    }
    while (this.views.size > keep) {
      let oldest: ListView | undefined;
      for (const view of this.views.values()) {
        if (view !== inUse && (oldest === undefined || view.lastUsedUs < oldest.lastUsedUs)) oldest = view;
      }
      if (oldest === undefined) break;
      this.dropView(oldest);
    }
    for (const tracked of this.tracked.values()) {
      if (tracked.memberships.length === 0 && nowUs - tracked.lastListedUs > FORGET_AFTER_US) {
        tracked.dropped = true;
        this.tracked.delete(tracked.id);
      }
    }
  }

  private dropView(view: ListView): void {
    this.views.delete(view.list);
    if (this.lastList === view.list) this.lastList = undefined;
    view.detach();
  }

  /** Pushes the endpoint's current weight into every list it is in. */
  private commit(tracked: TrackedEndpoint): void {
    const raw = tracked.stats.weight;
    if (raw === tracked.raw) return;
    tracked.raw = raw;
    for (const member of tracked.memberships) member.view.update(member);
  }

  /**
   * Not in brpc, which re-evaluates an endpoint only when a pick or a feedback touches it: every
   * REFRESH_INTERVAL, age every window, recompute the mean rate and the rate floor from the rates
   * measured, and recompute every base weight against them. Endpoints that get (almost) no calls
   * are the ones that need it: their old calls must age out and their floor must follow the
   * traffic. An endpoint with nothing recent left is unknown again and starts over at the average,
   * as a new one does.
   */
  private refreshAll(nowUs: number): void {
    this.nextRefreshUs = nowUs + REFRESH_INTERVAL_US;
    this.dropIdleViews(nowUs, VIEW_CAP, this.view);
    const all = this.tracked;
    let measuredSum = 0;
    for (const tracked of all.values()) {
      const stats = tracked.stats;
      if (stats.expire(nowUs) && stats.samples > 0) stats.recomputeBase();
      measuredSum += stats.measuredQps;
    }
    this.traffic.meanQps = measuredSum / all.size;
    const floor = this.options.minQpsRatio * this.traffic.meanQps;
    this.traffic.minQps = floor > DEFAULT_QPS ? floor : DEFAULT_QPS;
    let knownSum = 0;
    let known = 0;
    let rawSum = 0;
    for (const tracked of all.values()) {
      const stats = tracked.stats;
      rawSum += tracked.raw;
      if (stats.samples === 0) continue;
      if (!stats.capped) stats.recomputeBase();
      knownSum += stats.baseWeight;
      known++;
    }
    const average = clampWeight(Math.floor(known > 0 ? knownSum / known : rawSum / all.size), this.options.minWeight);
    for (const tracked of all.values()) {
      if (tracked.stats.samples === 0) tracked.stats.forget(average);
      tracked.stats.updateWeight(nowUs);
      this.commit(tracked);
    }
  }

  /**
   * Re-evaluates the in-flight punishment now (the member's tree then holds the weight picks see).
   * Returns nothing: a weight is a fraction-free double beyond a small integer, and a returned one is
   * boxed into a heap number whenever V8 does not inline this.
   */
  private refresh(member: Membership, nowUs: number): void {
    member.tracked.stats.updateWeight(nowUs);
    this.commit(member.tracked);
  }

  /**
   * `kernelTimed`: `now` came from the kernel, whose outcome will carry it (`startedAt`) and the
   * invocation: the member's shared Pick then does, with no object per call. Otherwise (tests, a
   * stream's set-up, a balancer on its own clock) a LalbPick remembers them.
   */
  private choose(member: Membership, nowUs: number, invocation: Invocation, kernelTimed: boolean): Pick {
    member.tracked.stats.addInflight(nowUs);
    if (kernelTimed) return member.shared ?? (member.shared = this.sharedPick(member));
    return new LalbPick(member.endpoint, member, nowUs + this.shiftedUs, invocation, this.onDone);
  }

  private sharedPick(member: Membership): Pick {
    return {
      endpoint: member.endpoint,
      done: (outcome: PickOutcome) => {
        const startedAt = outcome.startedAt;
        const invocation = outcome.invocation;
        if (startedAt === undefined || invocation === undefined) {
          // Not the kernel's outcome (the contract says it is): at least take the call out of the
          // in-flight sums, from its latency, and learn nothing from it.
          const endUs = this.nowUs();
          const latencyUs = Number.isFinite(outcome.latencyMs) && outcome.latencyMs > 0 ? Math.round(outcome.latencyMs * 1000) : 0;
          if (!member.tracked.dropped) member.tracked.stats.removeInflight(endUs - latencyUs);
          return;
        }
        // Kernel-timed picks read no clock: the epoch moves up here, before a begin is converted.
        if (startedAt >= this.rebaseAtMs) this.rebase();
        // The same computation as the pick's begin, from the same reading: the same integer.
        this.feedback(member, Math.round((startedAt - this.epochMs) * 1000), invocation, outcome);
      },
    };
  }

  /**
   * After the bounded draws: a weighted choice among the endpoints not excluded, by a linear pass.
   * Unlike brpc, which on its last try would take an excluded server rather than fail, an excluded
   * endpoint is never returned: Trellis's retry excludes endpoints that already failed this call.
   */
  private pickLinear(view: ListView, excluded: ReadonlySet<string>, nowUs: number, invocation: Invocation, kernelTimed: boolean): Pick | undefined {
    const members = view.members;
    const tree = view.tree;
    let sum = 0;
    let eligible = 0;
    for (let i = 0; i < members.length; i++) {
      if (excluded.has(members[i]!.tracked.id)) continue;
      sum += tree.weightAt(i);
      eligible++;
    }
    if (eligible === 0) return undefined;
    // All remaining weights 0 (endpoint.weight 0): still serve the call, uniformly.
    const random = this.random;
    const unit = random === undefined ? this.fastRandom.fraction() : random();
    let dice = Math.floor(unit * (sum > 0 ? sum : eligible));
    let chosen: Membership | undefined;
    for (let i = 0; i < members.length; i++) {
      const member = members[i]!;
      if (excluded.has(member.tracked.id)) continue;
      chosen = member;
      dice -= sum > 0 ? tree.weightAt(i) : 1;
      if (dice < 0) break;
    }
    this.refresh(chosen!, nowUs);
    return this.choose(chosen!, nowUs, invocation, kernelTimed);
  }

  /** brpc `Feedback` / `Weight::Update`, plus `MarkFailed` for endpoints that cannot be reached. */
  private feedback(member: Membership, beginUs: number, invocation: Invocation, outcome: PickOutcome): void {
    const tracked = member.tracked;
    // Forgotten since the pick: its state is gone (brpc drops feedback for a removed server too).
    if (tracked.dropped) return;
    const stats = tracked.stats;
    const measured = Number.isFinite(outcome.latencyMs) && outcome.latencyMs > 0 ? Math.round(outcome.latencyMs * 1000) : 0;
    const endUs = this.outcomesOnBalancerClock && measured > 0 ? beginUs + measured : this.nowUs();
    stats.removeInflight(beginUs);
    stats.expire(endUs);
    const error = outcome.error;
    if (error !== undefined && error.code === Code.CANCELLED) {
      // The caller gave up: that says nothing about the endpoint (brpc would count it as an error).
      this.refresh(member, endUs);
      return;
    }
    const latencyUs = measured > 0 ? measured : endUs - beginUs;
    // brpc ignores a non-positive latency (clock skew) rather than learn from it.
    if (latencyUs <= 0) return;
    let updated: boolean;
    // An answer (NOT_FOUND…) that ran on the provider is a served call, with a real latency; only a
    // failure (the kernel's shared definition) or a call that never ran costs the error penalty.
    if (error === undefined || (error.mayHaveRun && !this.options.isFailure(error))) {
      updated = stats.recordSuccess(latencyUs, endUs);
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
    if (updated) this.refresh(member, endUs);
    if (error !== undefined && isUnreachable(error)) {
      if (stats.capBaseWeight(member.view.averageWeight())) this.refresh(member, endUs);
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
    private readonly member: Membership,
    private readonly beginUs: number,
    private readonly invocation: Invocation,
    private readonly onDone: DoneHandler,
  ) {}

  done(outcome: PickOutcome): void {
    // Exactly once by contract; a second call must not take another call out of the in-flight sums.
    if (this.finished) return;
    this.finished = true;
    this.onDone(this.member, this.beginUs, this.invocation, outcome);
  }
}

/** Not reachable at all (refused, not connected): the request provably never ran there. */
function isUnreachable(error: RpcError): boolean {
  return error.code === Code.UNAVAILABLE && !error.mayHaveRun;
}

function clampWeight(weight: number, minWeight: number): number {
  return weight < minWeight ? minWeight : weight > MAX_WEIGHT ? MAX_WEIGHT : weight;
}
