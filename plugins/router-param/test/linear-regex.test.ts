import t from 'tap';
import { LinearRegex, RegexSyntaxError } from '../src/index.js';

/** A small seeded generator: the fuzz corpus is the same on every run. */
function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

const PATTERNS = [
  'abc', '^abc', 'abc$', '^abc$', '^$', '', 'a|b', '^(ios|android)$', '^v2-.*', '.*foo.*bar', 'a*', 'a+b', 'a?b',
  '^a{2}$', '^a{2,}$', '^a{2,3}$', 'x{0,2}y', '[abc]+', '[^abc]', '[a-z0-9_-]+@', '\\d{3}-\\d{4}', '\\w+\\s\\W', '\\D\\S',
  '^\\u0041\\x42', '[\\d.]+', '(a|ab)(c|bcd)(d*)', '(a+)+$', '(a*)*b', '(x+x+)+y', 'colou?r', '^user-(1|2|3)0{2}$',
  '(?:ab)+$', '(?<tier>gold|silver)', 'a.c', '\\.', '[.]', '[]', '[^]', 'a{', 'a{1', '{}', 'a}', ']', '\\/', '^(a|)+$',
  '$^', 'a$|^b', '\\n', '[\\b]', '(a?){3}a{3}', '[a\\-z]', '[-a]', '[a-]', '\\cJ', '\\0', 'é+', '[α-ω]+$',
];

const ALPHABET = ['a', 'b', 'c', 'x', 'y', '1', '2', '0', '-', '.', ' ', '\n', 'v', 'i', 'o', 's', '@', 'é', 'β', '_', 'B'];

t.test('matches exactly like RegExp.prototype.test on a seeded corpus', (t) => {
  const random = xorshift(20261127);
  let compared = 0;
  for (const pattern of PATTERNS) {
    const linear = new LinearRegex(pattern);
    const native = new RegExp(pattern);
    const inputs = ['', 'abc', 'v2-x', 'ios', 'android', 'colour', 'aaaa', 'ab', 'abcd', 'user-200', 'gold', '555-1234', 'a\nb'];
    for (let i = 0; i < 150; i++) {
      const length = Math.floor(random() * 12);
      inputs.push(Array.from({ length }, () => ALPHABET[Math.floor(random() * ALPHABET.length)]).join(''));
    }
    for (const input of inputs) {
      if (linear.test(input) !== native.test(input)) {
        t.fail(`/${pattern}/ on ${JSON.stringify(input)}: linear ${linear.test(input)}, native ${native.test(input)}`);
      }
      compared++;
    }
  }
  t.ok(compared > 9000, `${compared} comparisons, no difference`);
  t.end();
});

t.test('matches like RegExp on seeded random patterns', (t) => {
  const random = xorshift(7);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const atoms = ['a', 'b', 'c', '.', '[ab]', '[^a]', '\\d', '\\w', '\\s', '1', 'x'];
  const quantifiers = ['', '', '*', '+', '?', '{2}', '{1,3}', '{0,}', '*?'];
  const gen = (depth: number): string => {
    const parts: string[] = [];
    const count = 1 + Math.floor(random() * 3);
    for (let i = 0; i < count; i++) {
      const atom = depth > 0 && random() < 0.3 ? `(${gen(depth - 1)}${random() < 0.4 ? `|${gen(depth - 1)}` : ''})` : pick(atoms);
      parts.push(atom + pick(quantifiers));
    }
    return parts.join('');
  };
  let compared = 0;
  for (let p = 0; p < 300; p++) {
    const pattern = (random() < 0.3 ? '^' : '') + gen(2) + (random() < 0.3 ? '$' : '');
    const linear = new LinearRegex(pattern);
    const native = new RegExp(pattern);
    for (let i = 0; i < 60; i++) {
      const input = Array.from({ length: Math.floor(random() * 10) }, () => pick(['a', 'b', 'c', '1', 'x', ' ', '_'])).join('');
      if (linear.test(input) !== native.test(input)) t.fail(`/${pattern}/ on ${JSON.stringify(input)}: linear ${linear.test(input)}`);
      compared++;
    }
  }
  t.equal(compared, 18000, 'no difference in 18000 comparisons');
  t.end();
});

t.test('patterns that make a backtracking engine exponential finish on long inputs', (t) => {
  // Each would take far longer than the test timeout with RegExp (2^n paths); here they are linear.
  const evil = 'a'.repeat(5000) + '!';
  t.equal(new LinearRegex('(a+)+$').test(evil), false);
  t.equal(new LinearRegex('^(a|aa)*$').test(evil), false);
  t.equal(new LinearRegex('(x+x+)+y').test('x'.repeat(5000)), false);
  t.equal(new LinearRegex('^(a*)*b$').test(evil), false);
  t.equal(new LinearRegex('(a+)+$').test('a'.repeat(5000)), true);
  t.end();
});

t.test('features that need backtracking are refused with the reason and position', (t) => {
  const cases: [string, RegExp][] = [
    ['(a)\\1', /backreferences \(\\1\) are not supported.*position 3/],
    ['(?<n>a)\\k<n>', /backreferences \(\\k<name>\)/],
    ['foo(?=bar)', /lookahead and lookbehind/],
    ['(?<!x)y', /lookahead and lookbehind/],
    ['\\bword\\b', /word boundaries/],
    ['a**', /nothing to repeat: two quantifiers/],
    ['*a', /nothing to repeat/],
    ['^*', /anchor cannot take a quantifier/],
    ['(ab', /missing "\)"/],
    ['ab)', /unmatched "\)"/],
    ['[ab', /missing "]"/],
    ['[z-a]', /range out of order/],
    ['a{3,2}', /numbers out of order/],
    ['a{1001}', /limited to 1000/],
    ['\\p{L}', /Unicode property escapes/],
    ['\\u{41}', /needs the u flag/],
    ['\\q', /unknown escape/],
    ['\\', /at the end of the pattern/],
    ['(?i)a', /unsupported group syntax/],
  ];
  for (const [pattern, message] of cases) {
    t.throws(() => new LinearRegex(pattern), message, pattern);
  }
  t.throws(() => new LinearRegex('(a)\\1'), RegexSyntaxError);
  t.throws(() => new LinearRegex('((a{1000}){1000})'), /too large once its repetitions are expanded/);
  t.end();
});
