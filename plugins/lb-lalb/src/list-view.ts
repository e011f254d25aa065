import { DEFAULT_WEIGHT, type Endpoint, type Pick } from '@trellis/core/spi';
import type { EndpointStats } from './endpoint-stats.js';
import { MAX_WEIGHT } from './constants.js';
import { WeightTree } from './weight-tree.js';

/** What LALB knows about one endpoint, shared by every list it appears in. */
export interface TrackedEndpoint {
  readonly id: string;
  readonly stats: EndpointStats;
  /** LALB's own weight as last pushed into the views (before endpoint.weight multipliers). */
  raw: number;
  /** The lists it is in now. */
  readonly memberships: Membership[];
  /** When a list it was in was last picked from, as of its lists dropped so far. */
  lastListedUs: number;
  /** Dropped: feedback arriving later for a call picked before is ignored. */
  dropped: boolean;
}

/** One endpoint's node in one list's tree. */
export interface Membership {
  readonly view: ListView;
  readonly tracked: TrackedEndpoint;
  readonly endpoint: Endpoint;
  readonly index: number;
  /** endpoint.weight / 100: how a warm-up ramp (or an operator) scales LALB's own weight. */
  readonly multiplier: number;
  /**
   * The Pick handed out for this member when the kernel gave `pick` its attempt-start reading: the
   * kernel's outcome then carries that start and the invocation, so one object per member serves
   * every call (made on first use by the balancer; no Pick allocated per call).
   */
  shared: Pick | undefined;
}

/**
 * One endpoint list as the routers hand it to the balancer, with its own weight tree. Routers
 * narrow the list per call (a gray release sends some calls to [v2] and the rest to [v1a, v1b]),
 * and they hand over the same array for the same outcome; so the balancer keeps one view per list,
 * built once, and the statistics per endpoint, shared by all the views that contain it. Switching
 * between lists then costs a map lookup, and no list forgets what another taught.
 */
export class ListView {
  readonly tree = new WeightTree();
  readonly members: Membership[] = [];
  /** Written on every pick: initialised as a number (see EndpointStats.weight). */
  lastUsedUs = 0;

  constructor(
    /** The array it was built from; replaced by an equal array a router hands over instead. */
    public list: readonly Endpoint[],
    nowUs: number,
  ) {
    this.lastUsedUs = nowUs;
  }

  /** Whether `other` holds exactly this list's endpoints (the same objects, in the same order). */
  sameEndpoints(other: readonly Endpoint[]): boolean {
    const list = this.list;
    if (other.length !== list.length) return false;
    for (let i = 0; i < list.length; i++) if (other[i] !== list[i]) return false;
    return true;
  }

  /** Adds a member at the end of the tree, with the endpoint's current LALB weight. */
  add(tracked: TrackedEndpoint, endpoint: Endpoint): Membership {
    const member: Membership = {
      view: this,
      tracked,
      endpoint,
      index: this.tree.push(0),
      multiplier: multiplierOf(endpoint),
      shared: undefined,
    };
    this.members.push(member);
    tracked.memberships.push(member);
    this.tree.set(member.index, scaled(tracked.raw, member.multiplier));
    return member;
  }

  /**
   * The member's LALB weight (`tracked.raw`) changed: update the tree. Takes no weight: a weight is
   * beyond V8's small integers, and one passed to a call V8 does not inline is boxed into a heap
   * number (16 B per call ended, when this took the old weight to keep a running total).
   */
  update(member: Membership): void {
    this.tree.set(member.index, scaled(member.tracked.raw, member.multiplier));
  }

  /**
   * The average LALB weight of this list's endpoints (brpc's total / count). Summed here, on the
   * rare path that needs it (an unreachable endpoint), rather than kept as a running total on every
   * weight change: the same integer sum (exact below 2^53: at most 2048 weights below 2^42).
   */
  averageWeight(): number {
    const members = this.members;
    if (members.length === 0) return 0;
    let total = 0;
    for (let i = 0; i < members.length; i++) total += members[i]!.tracked.raw;
    return Math.floor(total / members.length);
  }

  /** Detaches every member from its endpoint, noting when each was last in a list picked from. */
  detach(): void {
    for (const member of this.members) {
      const tracked = member.tracked;
      const at = tracked.memberships.indexOf(member);
      if (at >= 0) tracked.memberships.splice(at, 1);
      if (this.lastUsedUs > tracked.lastListedUs) tracked.lastListedUs = this.lastUsedUs;
    }
  }
}

function scaled(raw: number, multiplier: number): number {
  return Math.min(MAX_WEIGHT, Math.floor(raw * multiplier));
}

/** endpoint.weight relative to the default 100; a missing or invalid weight counts as 100. */
function multiplierOf(endpoint: Endpoint): number {
  const weight = endpoint.weight;
  return typeof weight === 'number' && Number.isFinite(weight) && weight >= 0 ? weight / DEFAULT_WEIGHT : 1;
}
