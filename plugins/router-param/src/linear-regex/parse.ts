/**
 * Parser for the regular-expression subset router-param accepts: JavaScript syntax without the
 * features that need backtracking (backreferences, lookaround, word boundaries). What it accepts is
 * matched by an automaton in time linear in the input, so no user-supplied rule can stall a consumer.
 */

/** Code-unit ranges as a flat sorted list `[lo0, hi0, lo1, hi1, …]`, merged and not negated. */
export type Ranges = readonly number[];

export type RegexNode =
  | { readonly kind: 'set'; readonly ranges: Ranges }
  | { readonly kind: 'seq'; readonly items: readonly RegexNode[] }
  | { readonly kind: 'alt'; readonly options: readonly RegexNode[] }
  | { readonly kind: 'repeat'; readonly node: RegexNode; readonly min: number; readonly max: number }
  | { readonly kind: 'bol' }
  | { readonly kind: 'eol' };

/** Upper bound of `{n,m}` counts: repetitions are expanded into automaton states. */
export const MAX_REPEAT = 1000;

export class RegexSyntaxError extends Error {
  override readonly name = 'RegexSyntaxError';
  constructor(message: string, readonly position: number) {
    super(`${message} (at position ${position})`);
  }
}

const MAX_UNIT = 0xffff;
const DIGIT: Ranges = [0x30, 0x39];
const WORD: Ranges = [0x30, 0x39, 0x41, 0x5a, 0x5f, 0x5f, 0x61, 0x7a];
const SPACE: Ranges = normalize([
  0x09, 0x0d, 0x20, 0x20, 0xa0, 0xa0, 0x1680, 0x1680, 0x2000, 0x200a, 0x2028, 0x2029, 0x202f, 0x202f, 0x205f, 0x205f,
  0x3000, 0x3000, 0xfeff, 0xfeff,
]);
/** `.` without the `s` flag: anything but a line terminator. */
const DOT: Ranges = negate(normalize([0x0a, 0x0a, 0x0d, 0x0d, 0x2028, 0x2029]));

export function normalize(ranges: readonly number[]): Ranges {
  const pairs: [number, number][] = [];
  for (let i = 0; i < ranges.length; i += 2) pairs.push([ranges[i]!, ranges[i + 1]!]);
  pairs.sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [lo, hi] of pairs) {
    const last = out.length - 1;
    if (last > 0 && lo <= out[last]! + 1) out[last] = Math.max(out[last]!, hi);
    else out.push(lo, hi);
  }
  return out;
}

export function negate(ranges: Ranges): Ranges {
  const out: number[] = [];
  let next = 0;
  for (let i = 0; i < ranges.length; i += 2) {
    if (ranges[i]! > next) out.push(next, ranges[i]! - 1);
    next = ranges[i + 1]! + 1;
  }
  if (next <= MAX_UNIT) out.push(next, MAX_UNIT);
  return out;
}

export function inRanges(ranges: Ranges, unit: number): boolean {
  for (let i = 0; i < ranges.length; i += 2) {
    if (unit < ranges[i]!) return false;
    if (unit <= ranges[i + 1]!) return true;
  }
  return false;
}

type ClassAtom = { readonly unit: number } | { readonly ranges: Ranges };

class Parser {
  private pos = 0;

  constructor(private readonly src: string) {}

  parse(): RegexNode {
    const node = this.alternation();
    if (this.pos < this.src.length) throw this.error(this.peek() === ')' ? 'unmatched ")"' : `unexpected ${JSON.stringify(this.peek())}`);
    return node;
  }

  private peek(offset = 0): string | undefined {
    return this.src[this.pos + offset];
  }

  private error(message: string, at = this.pos): RegexSyntaxError {
    return new RegexSyntaxError(message, at);
  }

  private alternation(): RegexNode {
    const options = [this.sequence()];
    while (this.peek() === '|') {
      this.pos++;
      options.push(this.sequence());
    }
    return options.length === 1 ? options[0]! : { kind: 'alt', options };
  }

  private sequence(): RegexNode {
    const items: RegexNode[] = [];
    while (this.pos < this.src.length && this.peek() !== '|' && this.peek() !== ')') items.push(this.quantified());
    return items.length === 1 ? items[0]! : { kind: 'seq', items };
  }

  private quantified(): RegexNode {
    const start = this.pos;
    const atom = this.atom();
    const quantifier = this.quantifier();
    if (quantifier === undefined) return atom;
    if (atom.kind === 'bol' || atom.kind === 'eol') throw this.error('nothing to repeat: an anchor cannot take a quantifier', start);
    if (this.peek() === '?') this.pos++; // lazy: the same language, and only "does it match" is asked
    if (this.quantifierAhead()) throw this.error('nothing to repeat: two quantifiers in a row');
    return { kind: 'repeat', node: atom, ...quantifier };
  }

  private quantifierAhead(): boolean {
    const c = this.peek();
    return c === '*' || c === '+' || c === '?' || (c === '{' && /^\{\d+(,\d*)?\}/.test(this.src.slice(this.pos)));
  }

  private quantifier(): { min: number; max: number } | undefined {
    const c = this.peek();
    if (c === '*') return this.pos++, { min: 0, max: Infinity };
    if (c === '+') return this.pos++, { min: 1, max: Infinity };
    if (c === '?') return this.pos++, { min: 0, max: 1 };
    if (c !== '{') return undefined;
    const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.pos));
    if (!m) return undefined; // a literal "{", as JavaScript reads it
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
    if (min > max) throw this.error(`numbers out of order in ${m[0]}`);
    if (min > MAX_REPEAT || (max !== Infinity && max > MAX_REPEAT)) throw this.error(`repetition counts are limited to ${MAX_REPEAT}, got ${m[0]}`);
    this.pos += m[0].length;
    return { min, max };
  }

  private atom(): RegexNode {
    const c = this.peek()!;
    switch (c) {
      case '(':
        return this.group();
      case '[':
        return { kind: 'set', ranges: this.characterClass() };
      case '.':
        this.pos++;
        return { kind: 'set', ranges: DOT };
      case '^':
        this.pos++;
        return { kind: 'bol' };
      case '$':
        this.pos++;
        return { kind: 'eol' };
      case '\\': {
        const atom = this.escape(false);
        return { kind: 'set', ranges: 'unit' in atom ? [atom.unit, atom.unit] : atom.ranges };
      }
      case '*':
      case '+':
      case '?':
        throw this.error(`nothing to repeat before ${JSON.stringify(c)}`);
      default:
        if (c === '{' && this.quantifierAhead()) throw this.error('nothing to repeat before "{"');
        this.pos++;
        return { kind: 'set', ranges: [c.charCodeAt(0), c.charCodeAt(0)] };
    }
  }

  private group(): RegexNode {
    const start = this.pos;
    this.pos++;
    if (this.peek() === '?') {
      const rest = this.src.slice(this.pos, this.pos + 3);
      if (rest.startsWith('?:')) {
        this.pos += 2;
      } else if (rest.startsWith('?=') || rest.startsWith('?!') || rest.startsWith('?<=') || rest.startsWith('?<!')) {
        throw this.error('lookahead and lookbehind are not supported (they need backtracking)', start);
      } else if (rest.startsWith('?<')) {
        const m = /^\?<([A-Za-z_$][\w$]*)>/.exec(this.src.slice(this.pos));
        if (!m) throw this.error('invalid group name', start);
        this.pos += m[0].length; // a named group matches like a plain one; names are not used
      } else {
        throw this.error('unsupported group syntax "(?"', start);
      }
    }
    const node = this.alternation();
    if (this.peek() !== ')') throw this.error('missing ")"', start);
    this.pos++;
    return node;
  }

  private characterClass(): Ranges {
    const start = this.pos;
    this.pos++;
    const negated = this.peek() === '^';
    if (negated) this.pos++;
    const ranges: number[] = [];
    for (;;) {
      if (this.pos >= this.src.length) throw this.error('missing "]"', start);
      if (this.peek() === ']') {
        this.pos++;
        break;
      }
      const lo = this.classAtom();
      if (this.peek() === '-' && this.peek(1) !== undefined && this.peek(1) !== ']') {
        const dash = this.pos;
        this.pos++;
        const hi = this.classAtom();
        if (!('unit' in lo) || !('unit' in hi)) throw this.error('a class escape (\\d, \\w, \\s) cannot bound a range', dash);
        if (lo.unit > hi.unit) throw this.error('range out of order in character class', dash);
        ranges.push(lo.unit, hi.unit);
      } else if ('unit' in lo) {
        ranges.push(lo.unit, lo.unit);
      } else {
        ranges.push(...lo.ranges);
      }
    }
    const set = normalize(ranges);
    return negated ? negate(set) : set;
  }

  private classAtom(): ClassAtom {
    if (this.peek() === '\\') return this.escape(true);
    return { unit: this.src.charCodeAt(this.pos++) };
  }

  private escape(inClass: boolean): ClassAtom {
    const start = this.pos;
    this.pos++;
    const c = this.peek();
    if (c === undefined) throw this.error('"\\" at the end of the pattern', start);
    this.pos++;
    switch (c) {
      case 'd': return { ranges: DIGIT };
      case 'D': return { ranges: negate(DIGIT) };
      case 'w': return { ranges: WORD };
      case 'W': return { ranges: negate(WORD) };
      case 's': return { ranges: SPACE };
      case 'S': return { ranges: negate(SPACE) };
      case 'n': return { unit: 0x0a };
      case 'r': return { unit: 0x0d };
      case 't': return { unit: 0x09 };
      case 'v': return { unit: 0x0b };
      case 'f': return { unit: 0x0c };
      case 'b':
        if (inClass) return { unit: 0x08 };
        throw this.error('word boundaries (\\b) are not supported', start);
      case 'B': throw this.error('word boundaries (\\B) are not supported', start);
      case 'k': throw this.error('backreferences (\\k<name>) are not supported (they need backtracking)', start);
      case 'p':
      case 'P': throw this.error('Unicode property escapes (\\p{…}) are not supported', start);
      case '0':
        if (/\d/.test(this.peek() ?? '')) throw this.error('octal escapes are not supported', start);
        return { unit: 0 };
      case 'c': {
        const letter = this.peek();
        if (letter === undefined || !/[A-Za-z]/.test(letter)) throw this.error('"\\c" must be followed by a letter', start);
        this.pos++;
        return { unit: letter.charCodeAt(0) % 32 };
      }
      case 'x':
        return { unit: this.hex(2, start) };
      case 'u':
        if (this.peek() === '{') throw this.error('"\\u{…}" needs the u flag, which is not supported; use \\uXXXX', start);
        return { unit: this.hex(4, start) };
      default:
        if (/[1-9]/.test(c)) throw this.error(`backreferences (\\${c}) are not supported (they need backtracking)`, start);
        if (/[A-Za-z0-9]/.test(c)) throw this.error(`unknown escape "\\${c}"`, start);
        return { unit: c.charCodeAt(0) };
    }
  }

  private hex(digits: number, start: number): number {
    const text = this.src.slice(this.pos, this.pos + digits);
    if (!new RegExp(`^[0-9A-Fa-f]{${digits}}$`).test(text)) throw this.error(`"\\${digits === 2 ? 'x' : 'u'}" needs ${digits} hex digits`, start);
    this.pos += digits;
    return parseInt(text, 16);
  }
}

/** Parses a pattern; throws RegexSyntaxError saying what is unsupported or malformed, and where. */
export function parseRegex(pattern: string): RegexNode {
  return new Parser(pattern).parse();
}
