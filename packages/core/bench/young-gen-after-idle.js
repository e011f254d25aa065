'use strict';
// V8's young generation after an idle gap, without Trellis: fill it to its full size (a ring of live
// objects makes scavenges' survivors grow it), idle for `idleMs`, then allocate again and print its
// size after the first scavenges and after many more. Node 20: after a gap of ~20 s the first
// scavenge shrinks it (allocation throughput since the last GC under V8's 1000 B/ms), and it grows back
// only as scavenges' survivors add up to its capacity. Why apps/bench's --profile runs showed the
// governed server with a small young generation (docs/performance.md, "Governance path, session 11
// (server)"). Not a timing: the sizes are V8's state.
//
//   node packages/core/bench/young-gen-after-idle.js 20000
//   node --min-semi-space-size=16 packages/core/bench/young-gen-after-idle.js 20000
const { getHeapSpaceStatistics } = require('node:v8');

const youngMiB = () => getHeapSpaceStatistics().find((space) => space.space_name === 'new_space').space_size / 2 ** 20;
const ring = new Array(2000).fill(null);
let next = 0;
function allocate(objects) {
  for (let i = 0; i < objects; i++) ring[next++ % ring.length] = { list: new Array(20).fill(i), name: `x${i}` };
}

const idleMs = Number(process.argv[2] ?? 20_000);
allocate(3_000_000);
const before = youngMiB();
setTimeout(() => {
  allocate(200_000);
  const afterFirst = youngMiB();
  allocate(2_000_000);
  console.log(`idle ${idleMs} ms${process.execArgv.length > 0 ? ` (${process.execArgv.join(' ')})` : ''}: young generation ${before} MiB before, `
    + `${afterFirst} MiB after the first scavenges, ${youngMiB()} MiB after many more`);
}, idleMs);
