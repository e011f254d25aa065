'use strict';
// The router's hand-written linear-time regex engine against re2js (the JavaScript port of RE2), with
// the backtracking RegExp as a reference. Not part of the tests; the decision it supports is in the
// README ("Why a hand-written regex engine"). Build first:
// `pnpm exec tsc -p tsconfig.build.json && node bench/regex-engines.js`.
//  1. test() on typical rule patterns and values (ns per call, median of 5 rounds);
//  2. compiling a pattern (a rules update compiles every pattern once);
//  3. pathological patterns on a 1024-character value (the router's cap on regex inputs);
//  4. the code each engine ships.
const { readdirSync, readFileSync } = require('node:fs');
const { join } = require('node:path');
const { gzipSync } = require('node:zlib');
const { median } = require('@trellis/core/toolkit');
const { RE2JS } = require('re2js');
const { LinearRegex } = require('../dist/index.js');

const TYPICAL = [
  ['^(gold|platinum)-\\d+$', ['gold-123', 'silver-9', 'platinum-77', 'gold-x', 'bronze-1234567']],
  ['@(example|acme)\\.com$', ['ann@example.com', 'bob@other.org', 'c.d@acme.com', 'someone.with.a.long.name@example.co.uk']],
  ['^v[0-9]+\\.[0-9]+', ['v2.1.0', '1.0', 'v10.22-beta', 'version']],
  ['^[a-z0-9-]{3,32}$', ['tenant-42', 'AB', 'a-very-long-tenant-name-that-is-ok', 'x_y']],
  ['beta|canary', ['app-beta-7', 'stable', 'canary-eu', 'prod-eu-west-1']],
];

// The literal-present variants defeat re2js's required-literal prefilter, so the automaton itself runs.
const PATHOLOGICAL = [
  ['(a+)+$', 'a'.repeat(1023) + 'b'],
  ['(a|aa)*c', 'a'.repeat(1024)],
  ['^(\\w+\\s?)*$', 'word '.repeat(204) + '!!!!'],
  ['(x+x+)+y', 'x'.repeat(1024)],
  ['(x+x+)+y', 'y' + 'x'.repeat(1023)],
];

const ENGINES = {
  linear: (pattern) => { const r = new LinearRegex(pattern); return (s) => r.test(s); },
  re2js: (pattern) => { const r = RE2JS.compile(RE2JS.translateRegExp(pattern)); return (s) => r.test(s); },
  RegExp: (pattern) => { const r = new RegExp(pattern); return (s) => r.test(s); },
};

function nsPerCall(fn, n) {
  let sink = 0;
  for (let i = 0; i < Math.min(n, 200_000); i++) sink += fn(i) ? 1 : 0;
  const rounds = [];
  for (let r = 0; r < 5; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sink += fn(i) ? 1 : 0;
    rounds.push(Number(process.hrtime.bigint() - start) / n);
  }
  if (sink < 0) console.log(sink);
  return median(rounds);
}

function typical() {
  console.log('1. test() on typical rule patterns, ns per call (values alternated):');
  const sums = { linear: 0, re2js: 0, RegExp: 0 };
  for (const [pattern, values] of TYPICAL) {
    const cells = [];
    for (const [name, make] of Object.entries(ENGINES)) {
      const test = make(pattern);
      for (const v of values) if (test(v) !== new RegExp(pattern).test(v)) throw new Error(`${name} disagrees with RegExp on ${pattern} / ${v}`);
      const ns = nsPerCall((i) => test(values[i % values.length]), 1_000_000);
      sums[name] += ns;
      cells.push(`${name} ${ns.toFixed(0).padStart(5)}`);
    }
    console.log(`   ${pattern.padEnd(24)} ${cells.join('   ')}`);
  }
  const mean = (name) => sums[name] / TYPICAL.length;
  console.log(`   mean: linear ${mean('linear').toFixed(0)} ns, re2js ${mean('re2js').toFixed(0)} ns (${(mean('re2js') / mean('linear')).toFixed(1)}× linear), RegExp ${mean('RegExp').toFixed(0)} ns`);
}

function compileCost() {
  console.log('2. compiling one pattern, µs (the five above in turn):');
  for (const [name, make] of Object.entries(ENGINES)) {
    const ns = nsPerCall((i) => make(TYPICAL[i % TYPICAL.length][0]) !== undefined, 20_000);
    console.log(`   ${name.padEnd(7)} ${(ns / 1000).toFixed(1)} µs`);
  }
}

function pathological() {
  console.log('3. pathological patterns on a 1024-character value, µs per test():');
  for (const [pattern, value] of PATHOLOGICAL) {
    const cells = [];
    for (const name of ['linear', 're2js']) {
      const test = ENGINES[name](pattern);
      cells.push(`${name} ${(nsPerCall(() => test(value), 2_000) / 1000).toFixed(1).padStart(6)}`);
    }
    // Backtracking is exponential: 24 characters of the same value already take a visible time.
    const short = value.length > 24 ? value.slice(0, 22) + value.slice(-2) : value;
    const start = process.hrtime.bigint();
    new RegExp(pattern).test(short);
    cells.push(`RegExp on 24 characters ${(Number(process.hrtime.bigint() - start) / 1e6).toFixed(1)} ms`);
    console.log(`   ${pattern.padEnd(14)} ${JSON.stringify(value.slice(0, 6) + '…').padEnd(10)} ${cells.join('   ')}`);
  }
}

function codeSize() {
  console.log('4. code shipped: bytes of JavaScript / gzip -9 (comments included, not minified):');
  const sizes = (files) => {
    const text = Buffer.concat(files.map((f) => readFileSync(f)));
    return `${text.length} / ${gzipSync(text, { level: 9 }).length}`;
  };
  const linearDir = join(__dirname, '..', 'dist', 'linear-regex');
  console.log(`   linear  ${sizes(readdirSync(linearDir).filter((f) => f.endsWith('.js')).map((f) => join(linearDir, f)))}`);
  console.log(`   re2js   ${sizes([require.resolve('re2js')])}`);
}

typical();
compileCost();
pathological();
codeSize();
