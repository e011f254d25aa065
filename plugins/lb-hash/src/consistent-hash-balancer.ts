import { Code, RpcError, type Endpoint, type Invocation, type LoadBalancer, type Pick } from '@trellis/core';
import type { HashTable, TableMember } from './hash-table.js';
import { compileKeyHasher, type KeyHasher } from './hash-key.js';
import { MaglevTable } from './maglev.js';
import { resolveHashOptions, type ConsistentHashOptions, type ResolvedHashOptions } from './options.js';
import { MAX_RING_MEMBERS, RingHash } from './ring-hash.js';

/** One endpoint's row in `ConsistentHashBalancer.snapshot()`. */
export interface HashSnapshot {
  readonly id: string;
  readonly weight: number;
  /** The fraction of the key space the table gives it (what it gets of evenly spread keys). */
  readonly keyShare: number;
  /** Calls picked from this list for it that have not ended. */
  readonly inFlight: number;
}

/**
 * One list as the routers hand it over, with its table (built once: the routers hand over the same
 * array for the same outcome) and the calls in flight per endpoint, which bounded load compares.
 */
interface View {
  list: readonly Endpoint[];
  /** The list's endpoints, each id once, in list order. */
  readonly members: Endpoint[];
  readonly table: HashTable;
  /** The members in the table: those of weight > 0 (all of them when every weight is 0). */
  readonly inTable: number;
  /** Each member's share of the load bound: weight / total weight (0 when not in the table). */
  readonly loadShare: Float64Array;
  readonly inFlight: Int32Array;
  totalInFlight: number;
  /** A reusable Pick per member: done() only gives back its load. */
  readonly picks: Pick[];
  /** visited[member] === epoch: already looked at during the current pick. */
  readonly visited: Uint32Array;
  epoch: number;
  lastUsed: number;
}

/** Lists kept at most (each holds a table): a few routed lists (v1, v2, a tenant) is the usual case. */
const VIEW_CAP = 8;

/**
 * Consistent hashing: a call's key (a request field, a metadata value, or a function's result) picks
 * its endpoint, so the same key keeps going to the same endpoint (caches, session affinity, per-user
 * ordering), and when endpoints come or go only the keys that must move do. Ring hash (ketama) or
 * Maglev; `endpoint.weight` sets each endpoint's share of the keys.
 *
 * With bounded load (Mirrokni, Thorup, Zadimoghaddam, "Consistent Hashing with Bounded Loads",
 * SODA 2018; on by default, ε = 0.25), an endpoint takes a call only while it has fewer than
 * ⌈(1 + ε) × (calls in flight + 1) × its weight share⌉ in flight: a hot key overflows, in its own
 * fixed order, to the next endpoints of its walk instead of burying one endpoint. A retry walks on
 * the same way, skipping `invocation.excluded`.
 */
export class ConsistentHashBalancer implements LoadBalancer {
  readonly name = 'consistent-hash';
  private readonly options: ResolvedHashOptions;
  private readonly hashKey: KeyHasher;
  private readonly views = new Map<readonly Endpoint[], View>();
  private last: View | undefined;
  private uses = 0;

  constructor(options: ConsistentHashOptions) {
    this.options = resolveHashOptions(options);
    this.hashKey = compileKeyHasher(this.options.key);
  }

  pick(list: readonly Endpoint[], invocation: Invocation): Pick | undefined {
    if (list.length === 0) return undefined;
    let hash = this.hashKey(invocation);
    if (hash === undefined) {
      if (this.options.onMissingKey === 'fail') throw this.missingKey();
      hash = Math.floor(this.options.random() * 4294967296) >>> 0;
    }
    const view = this.last !== undefined && this.last.list === list ? this.last : this.switchTo(list);
    view.lastUsed = ++this.uses;
    const member = this.walk(view, hash, invocation.excluded);
    if (member < 0) return undefined;
    view.inFlight[member]!++;
    view.totalInFlight++;
    return view.picks[member];
  }

  /** The endpoints of `list` (default: the list picked from last), with their key shares and loads. */
  snapshot(list?: readonly Endpoint[]): HashSnapshot[] {
    const view = list === undefined ? this.last : this.views.get(list);
    if (view === undefined) return [];
    const shares = view.table.keyShares(view.members.length);
    return view.members.map((endpoint, i) => ({ id: endpoint.id, weight: endpoint.weight, keyShare: shares[i]!, inFlight: view.inFlight[i]! }));
  }

  /**
   * From the key's position, the first member that is not excluded and, with bounded load, below its
   * bound. Every member is looked at once at most. If every allowed member is at its bound (possible
   * only when retries excluded some), the first allowed one on the walk; if none in the table is
   * allowed, a zero-weight member, by the key.
   */
  private walk(view: View, hash: number, excluded: ReadonlySet<string>): number {
    const table = view.table;
    const bounded = this.options.epsilon !== Number.POSITIVE_INFINITY;
    const budget = (1 + this.options.epsilon) * (view.totalInFlight + 1);
    if (++view.epoch === 0xffffffff) {
      view.visited.fill(0);
      view.epoch = 1;
    }
    const epoch = view.epoch;
    let firstAllowed = -1;
    let seen = 0;
    let position = table.locate(hash);
    for (let steps = 0; steps < table.size && seen < view.inTable; steps++, position = table.next(position)) {
      const member = table.ownerAt(position);
      if (view.visited[member] === epoch) continue;
      view.visited[member] = epoch;
      seen++;
      if (excluded.size !== 0 && excluded.has(view.members[member]!.id)) continue;
      if (!bounded || view.inFlight[member]! < Math.ceil(budget * view.loadShare[member]!)) return member;
      if (firstAllowed < 0) firstAllowed = member;
    }
    if (firstAllowed >= 0) return firstAllowed;
    const outside: number[] = [];
    for (let i = 0; i < view.members.length; i++) {
      if (view.loadShare[i] === 0 && !excluded.has(view.members[i]!.id)) outside.push(i);
    }
    return outside.length === 0 ? -1 : outside[hash % outside.length]!;
  }

  private missingKey(): RpcError {
    const { field, header } = this.options.key;
    const what = field !== undefined ? `request field "${field}"` : header !== undefined ? `metadata "${header}"` : 'key function';
    return new RpcError(Code.INVALID_ARGUMENT, `consistent-hash: the call has no hash key (the ${what} gave nothing) and onMissingKey is 'fail'`, { mayHaveRun: false });
  }

  /** The view of a list: kept, an equal list's (a router that builds a new array per call), or new. */
  private switchTo(list: readonly Endpoint[]): View {
    let view = this.views.get(list);
    if (view === undefined && this.last !== undefined && sameEndpoints(this.last.list, list)) {
      view = this.last;
      this.views.delete(view.list);
      view.list = list;
      this.views.set(list, view);
    }
    if (view === undefined) {
      if (this.views.size >= VIEW_CAP) this.dropLeastRecentlyUsed();
      view = this.build(list);
      this.views.set(list, view);
    }
    this.last = view;
    return view;
  }

  private build(list: readonly Endpoint[]): View {
    const seen = new Set<string>();
    const members: Endpoint[] = [];
    for (const endpoint of list) {
      if (seen.has(endpoint.id)) continue;
      seen.add(endpoint.id);
      members.push(endpoint);
    }
    if (members.length > MAX_RING_MEMBERS) throw new RangeError(`consistent-hash: ${members.length} endpoints in one list; at most ${MAX_RING_MEMBERS}`);
    // Every weight 0 (or invalid): hash over them all alike rather than refuse every call.
    const anyWeighted = members.some((e) => weightOf(e) > 0);
    const tableMembers: TableMember[] = [];
    members.forEach((endpoint, index) => {
      const weight = anyWeighted ? weightOf(endpoint) : 1;
      if (weight > 0) tableMembers.push({ id: endpoint.id, weight, index });
    });
    // Maglev's fill order decides who gets contested slots: the same endpoints in any list order
    // must give the same table, in every client.
    tableMembers.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const table = this.options.algorithm === 'maglev'
      ? new MaglevTable(tableMembers, this.options.tableSize)
      : new RingHash(tableMembers, this.options.virtualNodes);
    const weightSum = tableMembers.reduce((a, m) => a + m.weight, 0);
    const loadShare = new Float64Array(members.length);
    for (const m of tableMembers) loadShare[m.index] = m.weight / weightSum;
    const inFlight = new Int32Array(members.length);
    const view: View = {
      list,
      members,
      table,
      inTable: tableMembers.length,
      loadShare,
      inFlight,
      totalInFlight: 0,
      picks: [],
      visited: new Uint32Array(members.length),
      epoch: 0,
      lastUsed: 0,
    };
    members.forEach((endpoint, i) => view.picks.push({ endpoint, done: () => release(view, i) }));
    return view;
  }

  private dropLeastRecentlyUsed(): void {
    let oldest: View | undefined;
    for (const view of this.views.values()) if (oldest === undefined || view.lastUsed < oldest.lastUsed) oldest = view;
    if (oldest === undefined) return;
    this.views.delete(oldest.list);
    if (this.last === oldest) this.last = undefined;
  }
}

/** done(): the call gives its load back (never below 0, should a caller call done() twice). */
function release(view: View, member: number): void {
  if (view.inFlight[member]! > 0) {
    view.inFlight[member]!--;
    view.totalInFlight--;
  }
}

function weightOf(endpoint: Endpoint): number {
  const weight = endpoint.weight;
  return typeof weight === 'number' && Number.isFinite(weight) && weight > 0 ? weight : 0;
}

function sameEndpoints(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
