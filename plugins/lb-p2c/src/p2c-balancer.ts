import { Code, type Endpoint, type Invocation, type LoadBalancer, type Pick, type PickOutcome } from '@trellis/core';
import type { Clock } from '@trellis/core/spi';
import { resolveP2cOptions, type P2cOptions } from './options.js';
import { PeakEwma } from './peak-ewma.js';

/** One endpoint's row in `P2cBalancer.snapshot()`. */
export interface P2cSnapshot {
  readonly id: string;
  /** The peak-EWMA latency estimate now (ms); 0 before the first answer. */
  readonly latencyMs: number;
  readonly inFlight: number;
  /** latency × (in flight + 1) ÷ (endpoint.weight / 100): what a pick compares. */
  readonly cost: number;
}

/** What the balancer keeps per endpoint id, shared by every list the endpoint is in. */
interface Tracked {
  readonly metric: PeakEwma;
  /** When a list it is in was last picked from (ms). */
  lastListedMs: number;
}

/**
 * One list as the routers hand it over, prepared once: the tracked state and a reusable Pick per
 * position (so a pick allocates nothing), and each endpoint's weight as a divisor of its cost.
 */
interface ListState {
  readonly list: readonly Endpoint[];
  readonly tracked: Tracked[];
  readonly picks: Pick[];
  /** endpoint.weight / 100; 0 makes the endpoint lose every comparison. */
  readonly multipliers: Float64Array;
  lastUsedMs: number;
}

/** Rejection draws before a pick with exclusions falls back to a pass over the list. */
const MAX_DRAWS = 8;
/** Lists kept at most; each costs its arrays. A few routed lists (v1, v2, a tenant) is usual. */
const LIST_CAP = 16;
/** Lists not picked from for this long are dropped, and endpoints in no kept list are forgotten. */
const FORGET_AFTER_MS = 30_000;

/**
 * Power of two choices with peak-EWMA latency (Finagle's `p2cPeakEwma`, Linkerd's balancer): draw
 * two distinct endpoints at random (never one of `invocation.excluded`) and send to the cheaper,
 * cost = peak-EWMA latency × (calls in flight + 1), divided by `endpoint.weight / 100`. Two random
 * numbers and two cost reads per pick, whatever the number of endpoints.
 *
 * A new endpoint joins at the highest latency estimate among the endpoints of its list that have
 * one (a penalty: it is trusted no more than the slowest), and earns traffic as that estimate decays
 * towards what it shows, over about `decayMs` (its warm-up). When nothing is known at all (a
 * client's first calls), every endpoint starts unknown and gets one probe at a time until it answers.
 */
export class P2cBalancer implements LoadBalancer {
  readonly name = 'p2c';
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly decayMs: number;
  private readonly tracked = new Map<string, Tracked>();
  private readonly lists = new Map<readonly Endpoint[], ListState>();
  private last: ListState | undefined;
  private nextSweepMs: number;

  /**
   * `onClientClock`: this balancer's clock is the client's (the plugin form without a `clock`
   * option), so the kernel's attempt-start reading handed to `pick` is a reading of it: no clock
   * read of its own per pick.
   */
  constructor(options: P2cOptions = {}, private readonly onClientClock = false) {
    const resolved = resolveP2cOptions(options);
    this.clock = resolved.clock;
    this.random = resolved.random;
    this.decayMs = resolved.decayMs;
    this.nextSweepMs = this.clock.now() + FORGET_AFTER_MS;
  }

  pick(list: readonly Endpoint[], invocation: Invocation, kernelNow?: number): Pick | undefined {
    const n = list.length;
    if (n === 0) return undefined;
    const now = this.onClientClock && kernelNow !== undefined ? kernelNow : this.clock.now();
    if (now >= this.nextSweepMs) this.sweep(now);
    const state = this.last !== undefined && this.last.list === list ? this.last : this.switchTo(list, now);
    state.lastUsedMs = now;
    const excluded = invocation.excluded;
    if (excluded.size === 0) {
      if (n === 1) return this.choose(state, 0);
      const a = Math.floor(this.random() * n);
      // Distinct without replacement: draw from n − 1 and step over a (Finagle's P2CPick).
      let b = Math.floor(this.random() * (n - 1));
      if (b >= a) b++;
      return this.choose(state, this.cheaper(state, a, b, now));
    }
    const a = this.draw(state, excluded, -1);
    if (a < 0) return this.pickAmongAllowed(state, excluded, now);
    const b = this.draw(state, excluded, a);
    if (b < 0) return this.pickAmongAllowed(state, excluded, now);
    return this.choose(state, this.cheaper(state, a, b, now));
  }

  /** Every endpoint tracked, with its estimate and cost now (weights of the list last picked from). */
  snapshot(): P2cSnapshot[] {
    const now = this.clock.now();
    const multiplier = new Map<string, number>();
    if (this.last !== undefined) this.last.list.forEach((e, i) => multiplier.set(e.id, this.last!.multipliers[i]!));
    return [...this.tracked].map(([id, { metric }]) => {
      const m = multiplier.get(id) ?? 1;
      return { id, latencyMs: metric.latencyMs(now), inFlight: metric.inFlight, cost: m > 0 ? metric.cost(now) / m : Number.POSITIVE_INFINITY };
    });
  }

  private choose(state: ListState, index: number): Pick {
    state.tracked[index]!.metric.inFlight++;
    return state.picks[index]!;
  }

  /** The index of the cheaper of a and b; a tie goes to a (itself a random choice). */
  private cheaper(state: ListState, a: number, b: number, now: number): number {
    return this.costAt(state, b, now) < this.costAt(state, a, now) ? b : a;
  }

  /** The cost divided by the weight multiplier; weight 0 loses to any weighted endpoint. */
  private costAt(state: ListState, index: number, now: number): number {
    const multiplier = state.multipliers[index]!;
    const cost = state.tracked[index]!.metric.cost(now);
    return multiplier > 0 ? cost / multiplier : Number.POSITIVE_INFINITY;
  }

  /** A random index not excluded and not `other`, in a few draws; -1 if they all missed. */
  private draw(state: ListState, excluded: ReadonlySet<string>, other: number): number {
    const n = state.list.length;
    for (let i = 0; i < MAX_DRAWS; i++) {
      const index = Math.floor(this.random() * n);
      if (index !== other && !excluded.has(state.list[index]!.id)) return index;
    }
    return -1;
  }

  /** The slow path when most of the list is excluded: two choices among what is left, by a pass. */
  private pickAmongAllowed(state: ListState, excluded: ReadonlySet<string>, now: number): Pick | undefined {
    const allowed: number[] = [];
    for (let i = 0; i < state.list.length; i++) if (!excluded.has(state.list[i]!.id)) allowed.push(i);
    if (allowed.length === 0) return undefined;
    if (allowed.length === 1) return this.choose(state, allowed[0]!);
    const a = Math.floor(this.random() * allowed.length);
    let b = Math.floor(this.random() * (allowed.length - 1));
    if (b >= a) b++;
    return this.choose(state, this.cheaper(state, allowed[a]!, allowed[b]!, now));
  }

  /** The prepared state of a list: kept, an equal list's (a router that builds a new array per call), or new. */
  private switchTo(list: readonly Endpoint[], now: number): ListState {
    let state = this.lists.get(list);
    if (state === undefined && this.last !== undefined && sameEndpoints(this.last.list, list)) {
      state = { ...this.last, list };
      this.lists.delete(this.last.list);
      this.lists.set(list, state);
    }
    this.last = state ?? this.prepare(list, now);
    return this.last;
  }

  private prepare(list: readonly Endpoint[], now: number): ListState {
    if (this.lists.size >= LIST_CAP) this.dropLeastRecentlyUsed();
    // The penalty a new endpoint starts at: the highest estimate among the list's known endpoints.
    let worstKnownMs = 0;
    for (const endpoint of list) {
      const known = this.tracked.get(endpoint.id);
      if (known !== undefined) worstKnownMs = Math.max(worstKnownMs, known.metric.latencyMs(now));
    }
    const tracked: Tracked[] = [];
    const picks: Pick[] = [];
    const multipliers = new Float64Array(list.length);
    for (let i = 0; i < list.length; i++) {
      const endpoint = list[i]!;
      let entry = this.tracked.get(endpoint.id);
      if (entry === undefined) {
        entry = { metric: new PeakEwma(this.decayMs, now, worstKnownMs), lastListedMs: now };
        this.tracked.set(endpoint.id, entry);
      }
      tracked.push(entry);
      picks.push(this.pickFor(endpoint, entry.metric));
      multipliers[i] = multiplierOf(endpoint);
    }
    const state: ListState = { list, tracked, picks, multipliers, lastUsedMs: now };
    this.lists.set(list, state);
    return state;
  }

  /** One Pick per endpoint of a list, reused by every call: the state it updates is per endpoint. */
  private pickFor(endpoint: Endpoint, metric: PeakEwma): Pick {
    return {
      endpoint,
      done: (outcome: PickOutcome) => this.observe(metric, outcome),
    };
  }

  /**
   * The pick's call ended. Every answer is a round trip to learn from, errors included (a timeout
   * is a very slow answer), as in Finagle, except when nothing came back from the endpoint: the
   * caller cancelled (it gave up; that says nothing about the endpoint) or the request never reached
   * it (refused, not connected: no round trip happened).
   */
  private observe(metric: PeakEwma, outcome: PickOutcome): void {
    // Bounded below: a done() called twice by a faulty caller must not make the endpoint look idle forever.
    if (metric.inFlight > 0) metric.inFlight--;
    const error = outcome.error;
    if (error !== undefined && (error.code === Code.CANCELLED || !error.mayHaveRun)) return;
    const latencyMs = outcome.latencyMs;
    if (Number.isFinite(latencyMs) && latencyMs >= 0) metric.observe(this.clock.now(), latencyMs);
  }

  private dropLeastRecentlyUsed(): void {
    let oldest: ListState | undefined;
    for (const state of this.lists.values()) if (oldest === undefined || state.lastUsedMs < oldest.lastUsedMs) oldest = state;
    if (oldest !== undefined) this.drop(oldest);
  }

  private drop(state: ListState): void {
    this.lists.delete(state.list);
    if (this.last === state) this.last = undefined;
    for (const entry of state.tracked) if (state.lastUsedMs > entry.lastListedMs) entry.lastListedMs = state.lastUsedMs;
  }

  /**
   * Every FORGET_AFTER: drop the lists not picked from since, then forget the endpoints that are in
   * no list left and have nothing in flight (they left the directory, or no route leads to them).
   */
  private sweep(now: number): void {
    this.nextSweepMs = now + FORGET_AFTER_MS;
    for (const state of [...this.lists.values()]) if (now - state.lastUsedMs > FORGET_AFTER_MS) this.drop(state);
    const listed = new Set<Tracked>();
    for (const state of this.lists.values()) for (const entry of state.tracked) listed.add(entry);
    for (const [id, entry] of this.tracked) {
      if (!listed.has(entry) && entry.metric.inFlight === 0 && now - entry.lastListedMs > FORGET_AFTER_MS) this.tracked.delete(id);
    }
  }
}

function sameEndpoints(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** endpoint.weight relative to the default 100; a missing or invalid weight counts as 100. */
function multiplierOf(endpoint: Endpoint): number {
  const weight = endpoint.weight;
  return typeof weight === 'number' && Number.isFinite(weight) && weight >= 0 ? weight / 100 : 1;
}
