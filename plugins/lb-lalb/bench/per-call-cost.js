'use strict';
// LALB's own per-call cost on the kernel's path (a pick handed the attempt-start reading, `done`
// with an outcome that carries it), without the rest of a client. Not part of the tests.
// Build first: `pnpm --filter @trellis/lb-lalb run build && node bench/per-call-cost.js`.
//
//   node bench/per-call-cost.js [--calls N] [--rounds R] [--endpoints K[,K…]] [--age-min M] [--dist DIR]
//
// 256 calls in flight, as in apps/bench's client-alloc-cost: each step ends the oldest call (its
// latency is the clock's time since its pick) and picks for a new one. Reports per call:
//  - bytes allocated, EXACT: the script re-runs itself with a new space large enough that no
//    scavenge happens during a round, and reads the new space's growth (the loop itself allocates
//    nothing: the outcome records are reused, as the kernel's attempt records are);
//  - CPU ns (process.cpuUsage), median of the rounds: a direction only on a shared machine.
// `--dist` measures another build (for example a copy of the base commit's dist/) to alternate.
// `--age-min M`: the balancer's clock jumps M minutes ahead once it is built, as for a client that
// has run that long (LALB's times are integer µs since its construction: past 2^31 µs, ≈ 36 min,
// they no longer fit V8's small integers).
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const { parseArgs } = require('node:util');
const v8 = require('node:v8');
const { performance } = require('node:perf_hooks');

const SEMI_SPACE_MB = 256;
if (!process.execArgv.some((a) => a.startsWith('--min-semi-space-size'))) {
  const child = spawnSync(process.execPath, [`--min-semi-space-size=${SEMI_SPACE_MB}`, '--expose-gc', `--max-semi-space-size=${SEMI_SPACE_MB}`, __filename, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(child.status ?? 1);
}

const { values } = parseArgs({ options: {
  calls: { type: 'string', default: '500000' },
  rounds: { type: 'string', default: '5' },
  endpoints: { type: 'string', default: '1,3' },
  'age-min': { type: 'string', default: '0' },
  dist: { type: 'string', default: path.join(__dirname, '..', 'dist') },
} });
const { LocalityAwareBalancer } = require(path.resolve(values.dist, 'index.js'));
const CALLS = Number(values.calls);
const IN_FLIGHT = 256;

function newSpaceUsed() {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_used_size;
}

function setup(k) {
  let aheadMs = 0;
  const clock = { now: () => performance.now() + aheadMs };
  const balancer = new LocalityAwareBalancer({ clock }, { outcomesOnBalancerClock: true });
  aheadMs = Number(values['age-min']) * 60_000;
  const list = Object.freeze(Array.from({ length: k }, (_, i) => ({ id: `127.0.0.1:${i + 1}`, host: '127.0.0.1', port: i + 1, weight: 100, version: '', tags: {} })));
  const invocation = { excluded: new Set(), attempt: 1, deadline: Infinity, context: null };
  // The kernel's attempt records: one per slot, reused (startedAt, invocation, latencyMs, error).
  const slots = Array.from({ length: IN_FLIGHT }, () => ({ pick: undefined, startedAt: 0, invocation, latencyMs: 0, error: undefined, code: 0, mayHaveRun: true }));
  let next = 0;
  const step = (n) => {
    for (let i = 0; i < n; i++) {
      const now = clock.now();
      const slot = slots[next];
      if (slot.pick !== undefined) {
        slot.latencyMs = now - slot.startedAt;
        slot.pick.done(slot);
      }
      slot.startedAt = now;
      slot.pick = balancer.pick(list, invocation, now);
      next = next + 1 === IN_FLIGHT ? 0 : next + 1;
    }
  };
  return step;
}

/** The same loop without a balancer: what the loop itself costs (subtracted from nothing; shown). */
function setupBare() {
  const clock = { now: () => performance.now() };
  const slots = Array.from({ length: IN_FLIGHT }, () => ({ startedAt: 0, latencyMs: 0 }));
  let next = 0;
  let sink = 0;
  return (n) => {
    for (let i = 0; i < n; i++) {
      const now = clock.now();
      const slot = slots[next];
      slot.latencyMs = now - slot.startedAt;
      slot.startedAt = now;
      sink += slot.latencyMs > 1e12 ? 1 : 0;
      next = next + 1 === IN_FLIGHT ? 0 : next + 1;
    }
    return sink;
  };
}

function measure(step) {
  const used = newSpaceUsed();
  const cpu = process.cpuUsage();
  step(CALLS);
  const spent = process.cpuUsage(cpu);
  const grown = newSpaceUsed() - used;
  return { bytes: grown / CALLS, ns: ((spent.user + spent.system) * 1000) / CALLS, scavenged: grown < 0 };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const cases = [['loop alone (clock read + bookkeeping)', setupBare()]];
for (const k of values.endpoints.split(',').map(Number)) cases.push([`LALB pick + done, ${k} endpoint(s)`, setup(k)]);
// Warm up (optimise) before measuring.
for (const [, step] of cases) step(200_000);
const results = new Map(cases.map(([name]) => [name, []]));
for (let r = 0; r < Number(values.rounds); r++) {
  for (const [name, step] of cases) {
    // Start each round with an empty new space, so the round's growth is all its own.
    if (global.gc) global.gc();
    results.get(name).push(measure(step));
  }
}
console.log(`${path.relative(process.cwd(), path.resolve(values.dist))}: ${CALLS} calls × ${values.rounds} rounds, ${IN_FLIGHT} in flight`);
for (const [name, rs] of results) {
  const bytes = rs.filter((r) => !r.scavenged).map((r) => r.bytes);
  console.log(`  ${name.padEnd(40)} ${bytes.length ? median(bytes).toFixed(2) : '  n/a'} B/call (rounds: ${bytes.map((b) => b.toFixed(1)).join(' ')})  ${median(rs.map((r) => r.ns)).toFixed(0)} ns/call CPU (${rs.map((r) => r.ns.toFixed(0)).join(' ')})`);
}
