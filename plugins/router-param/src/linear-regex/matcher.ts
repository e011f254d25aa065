import { inRanges, parseRegex, type Ranges, type RegexNode } from './parse.js';

/**
 * A Thompson automaton (an NFA built from the parse tree) simulated as a lazily built DFA: each set
 * of NFA states met is interned once, and its transitions are cached per input code unit. Matching
 * is one table lookup per character after warm-up, and never more than O(input × states) — there is
 * no backtracking to go exponential.
 *
 * Semantics are `RegExp.prototype.test` without flags: unanchored search, `^` and `$` at the input's
 * ends only, `.` excludes line terminators, UTF-16 code units (no `u` flag), case-sensitive.
 */

const CHAR = 0;
const SPLIT = 1;
const BOL = 2;
const EOL = 3;
const MATCH = 4;

/** States an expanded pattern may have: `(a{1000}){1000}` must not compile into a million. */
export const MAX_STATES = 20_000;
/** Interned DFA states kept before the cache starts over (bounds memory on adversarial input). */
const MAX_DFA_STATES = 2_000;

class Program {
  readonly kind: number[] = [];
  readonly out1: number[] = [];
  readonly out2: number[] = [];
  readonly sets: (Ranges | undefined)[] = [];

  add(kind: number, out1 = -1, out2 = -1, set?: Ranges): number {
    if (this.kind.length >= MAX_STATES) throw new Error(`the pattern is too large once its repetitions are expanded (over ${MAX_STATES} states)`);
    this.kind.push(kind);
    this.out1.push(out1);
    this.out2.push(out2);
    this.sets.push(set);
    return this.kind.length - 1;
  }

  /** Compiles `node` so that it continues at `next`; returns its entry state. */
  compile(node: RegexNode, next: number): number {
    switch (node.kind) {
      case 'set':
        return this.add(CHAR, next, -1, node.ranges);
      case 'bol':
        return this.add(BOL, next);
      case 'eol':
        return this.add(EOL, next);
      case 'seq': {
        let entry = next;
        for (let i = node.items.length - 1; i >= 0; i--) entry = this.compile(node.items[i]!, entry);
        return entry;
      }
      case 'alt': {
        let entry = this.compile(node.options[node.options.length - 1]!, next);
        for (let i = node.options.length - 2; i >= 0; i--) entry = this.add(SPLIT, this.compile(node.options[i]!, next), entry);
        return entry;
      }
      case 'repeat': {
        let entry = next;
        if (node.max === Infinity) {
          const loop = this.add(SPLIT, -1, next);
          this.out1[loop] = this.compile(node.node, loop);
          entry = loop;
        } else {
          // x{0,k} as (x(x(x)?)?)?: each optional copy may stop and go on to `next`.
          for (let i = 0; i < node.max - node.min; i++) entry = this.add(SPLIT, this.compile(node.node, entry), next);
        }
        for (let i = 0; i < node.min; i++) entry = this.compile(node.node, entry);
        return entry;
      }
    }
  }
}

class DState {
  readonly ascii: (DState | undefined)[] = new Array<DState | undefined>(128);
  other: Map<number, DState> | undefined;
  /** -1 unknown; 0/1: whether the input may end here (following `$`). */
  endAccepts = -1;
  constructor(readonly ids: Int32Array, readonly accepting: boolean) {}
}

export class LinearRegex {
  private readonly program = new Program();
  private readonly start: number;
  private cache = new Map<string, DState>();
  private first: DState;
  private readonly marks: Int32Array;
  private generation = 0;

  constructor(readonly source: string) {
    const match = this.program.add(MATCH);
    this.start = this.program.compile(parseRegex(source), match);
    this.marks = new Int32Array(this.program.kind.length);
    this.first = this.intern(this.closure([this.start], true, false));
  }

  /** Whether the pattern matches anywhere in `input` (like `RegExp.prototype.test`). */
  test(input: string): boolean {
    const n = input.length;
    if (n === 0) return this.closure([this.start], true, true).accepting;
    let state = this.first;
    if (state.accepting) return true;
    for (let i = 0; i < n; i++) {
      const unit = input.charCodeAt(i);
      let next = unit < 128 ? state.ascii[unit] : state.other?.get(unit);
      if (next === undefined) next = this.step(state, unit);
      state = next;
      if (state.accepting) return true;
    }
    if (state.endAccepts < 0) state.endAccepts = this.closure(Array.from(state.ids), false, true).accepting ? 1 : 0;
    return state.endAccepts === 1;
  }

  private step(from: DState, unit: number): DState {
    const { kind, out1, sets } = this.program;
    const seeds: number[] = [];
    for (const id of from.ids) if (kind[id] === CHAR && inRanges(sets[id]!, unit)) seeds.push(out1[id]!);
    // Unanchored search: a match may also start at the next position.
    seeds.push(this.start);
    if (this.cache.size >= MAX_DFA_STATES) {
      this.cache = new Map();
      this.first = this.intern(this.closure([this.start], true, false));
    }
    const to = this.intern(this.closure(seeds, false, false));
    if (unit < 128) from.ascii[unit] = to;
    else (from.other ??= new Map()).set(unit, to);
    return to;
  }

  /**
   * The states reachable without consuming input. Only states that consume or decide (CHAR, MATCH,
   * and EOL while the end is not reached) are kept: they alone define the DFA state.
   */
  private closure(seeds: readonly number[], atStart: boolean, atEnd: boolean): { ids: Int32Array; accepting: boolean } {
    const { kind, out1, out2 } = this.program;
    if (this.generation === 0x3fffffff) {
      this.generation = 0;
      this.marks.fill(0);
    }
    const generation = ++this.generation;
    const kept: number[] = [];
    let accepting = false;
    const stack = [...seeds].reverse();
    while (stack.length > 0) {
      const id = stack.pop()!;
      if (this.marks[id] === generation) continue;
      this.marks[id] = generation;
      switch (kind[id]) {
        case SPLIT:
          stack.push(out2[id]!, out1[id]!);
          break;
        case BOL:
          if (atStart) stack.push(out1[id]!);
          break;
        case EOL:
          if (atEnd) stack.push(out1[id]!);
          else kept.push(id);
          break;
        case MATCH:
          accepting = true;
          kept.push(id);
          break;
        default:
          kept.push(id);
      }
    }
    kept.sort((a, b) => a - b);
    return { ids: Int32Array.from(kept), accepting };
  }

  private intern(set: { ids: Int32Array; accepting: boolean }): DState {
    const key = set.ids.join(',');
    let state = this.cache.get(key);
    if (state === undefined) this.cache.set(key, (state = new DState(set.ids, set.accepting)));
    return state;
  }
}
