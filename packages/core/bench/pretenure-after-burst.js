'use strict';
// V8's allocation-site pretenuring, without Trellis: a function builds objects in bursts that are all
// still alive when a scavenge strikes (as a server's decoded requests are while a batch of 256 waits
// for its async handlers' answers). The scavenge finds every object that site made since the last GC
// alive (ratio 1.0 ≥ V8's 0.85) and, when the young generation is at its maximum size, decides
// "tenure" for the site, for good: its optimized code then allocates every such object in the old
// generation. Each of them that points at young objects (a decoded request's strings and arrays) keeps
// those alive through the remembered set until the next mark-compact, so every scavenge promotes
// megabytes of garbage (docs/performance.md, "GC on Trellis servers, session 11").
//
// Prints, for each way of building the object, whether a fresh one from optimized code is young:
//   node packages/core/bench/pretenure-after-burst.js
// It runs itself twice: with Node's default young generation (1 MiB at start: no decision, only
// "maybe tenure") and with --min-semi-space-size=16 (maximum size from the start: "tenure").
// Add --trace-pretenuring-statistics to the child flags below to see V8's per-site counts.
const { execFileSync } = require('node:child_process');

if (process.argv[2] !== 'child') {
  for (const flags of [[], ['--min-semi-space-size=16']]) {
    const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--expose-gc', ...flags, __filename, 'child'], { encoding: 'utf8' });
    console.log(`node ${flags.join(' ') || '(default young generation)'}:\n${out}`);
  }
  process.exit(0);
}

const young = new Function('o', 'return %InYoungGeneration(o)');
const optimize = new Function('f', '%PrepareFunctionForOptimization(f); f(1); f(1); %OptimizeFunctionOnNextCall(f); f(1);');
/** A constructor whose instances are plain objects (prototype Object.prototype): no allocation site. */
function Plain(a) {
  this.a = a;
  this.b = 1;
}
Plain.prototype = Object.prototype;

const makers = {
  'object literal {a, b}': (i) => ({ a: i, b: 1 }),
  'array literal []': () => [],
  // eslint-disable-next-line @typescript-eslint/no-array-constructor -- the constructor call is what is measured
  'new Array()': () => new Array(),
  'Array.of()': () => Array.of(),
  // eslint-disable-next-line @typescript-eslint/no-array-constructor -- the call without `new` is what is measured
  'Array() (called, no new)': () => Array(),
  'new Plain(a) (prototype Object.prototype)': (i) => new Plain(i),
};
const BURST = 300; // ≥ 100 objects: V8 decides only for a site that made at least 100 since the last GC
for (const [name, make] of Object.entries(makers)) {
  let alive = [];
  for (let round = 0; round < 6; round++) {
    alive = [];
    for (let i = 0; i < BURST; i++) alive.push(make(i));
    globalThis.gc({ type: 'minor' }); // the scavenge strikes while the whole burst is alive
  }
  optimize(make);
  console.log(`  ${name.padEnd(44)} a fresh one is ${young(make(1)) ? 'young' : 'OLD (pretenured)'}`);
}
