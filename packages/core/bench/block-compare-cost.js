'use strict';
// The server's constant-time comparison of a request's metadata block with the connection's
// remembered one (packages/core/src/transport/header-codec.ts `blockMatches` → `differenceFrom`), in isolation: the
// byte loop it was against four bytes at a time against kept 32-bit words (what it is now). Both are
// copies of the algorithm, so this file needs no build; both are checked to catch every single-bit
// difference at every position first. Blocks sit at odd offsets of 30 KB "chunks", as in a socket
// read. Process CPU time per compare (user + system, less moved by a loaded machine than wall time),
// min and median of 9 rounds: a timing — compare the two rows of one run.
//
//   node packages/core/bench/block-compare-cost.js [lengths…]   (default: 13 47 48 301)
const lengths = process.argv.slice(2).map(Number);
if (lengths.length === 0) lengths.push(13, 47, 48, 301);

function byteLoop(buf, start, end, block) {
  const length = block.length;
  if (end - start !== length) return false;
  let difference = 0;
  for (let i = 0; i < length; i++) difference |= buf[start + i] ^ block[i];
  return difference === 0;
}

function wordsOf(block) {
  const words = new Int32Array(block.length >> 2);
  for (let k = 0; k < words.length; k++) words[k] = block.readInt32LE(k * 4);
  return words;
}

function wordLoop(buf, start, end, block, words) {
  const length = block.length;
  if (end - start !== length) return false;
  let difference = 0;
  const count = words.length;
  let at = start;
  for (let k = 0; k < count; k++, at += 4) difference |= (buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16) | (buf[at + 3] << 24)) ^ words[k];
  for (let i = count * 4; i < length; i++) difference |= buf[start + i] ^ block[i];
  return difference === 0;
}

const ways = { 'byte loop': byteLoop, '4 bytes at a time': wordLoop };

for (const length of lengths) {
  const block = Buffer.alloc(length);
  for (let i = 0; i < length; i++) block[i] = (i * 37 + 11) & 255;
  const words = wordsOf(block);
  for (const [name, matches] of Object.entries(ways)) {
    for (let i = 0; i < length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const framed = Buffer.concat([Buffer.alloc(5), block]);
        framed[5 + i] ^= 1 << bit;
        if (matches(framed, 5, 5 + length, block, words)) throw new Error(`${name} missed bit ${bit} of byte ${i} (length ${length})`);
      }
    }
    if (!matches(Buffer.concat([Buffer.alloc(3), block]), 3, 3 + length, block, words)) throw new Error(`${name} refused the same bytes (length ${length})`);
  }
  const chunks = [];
  for (let c = 0; c < 8; c++) {
    const buf = Buffer.allocUnsafeSlow(30_000).fill(7);
    const starts = [];
    for (let s = 3 + c; s + length < 30_000; s += length + 70) {
      block.copy(buf, s);
      starts.push(s);
    }
    chunks.push({ buf, starts });
  }
  const round = (matches) => {
    let calls = 0;
    let same = 0;
    const before = process.cpuUsage();
    for (let r = 0; r < 40; r++) {
      for (const { buf, starts } of chunks) {
        for (let j = 0; j < starts.length; j++, calls++) if (matches(buf, starts[j], starts[j] + length, block, words)) same++;
      }
    }
    const used = process.cpuUsage(before);
    if (same !== calls) throw new Error('a compare went wrong');
    return ((used.user + used.system) * 1000) / calls;
  };
  const results = Object.fromEntries(Object.keys(ways).map((name) => [name, []]));
  for (let r = 0; r < 9; r++) for (const [name, matches] of Object.entries(ways)) results[name].push(round(matches));
  for (const [name, list] of Object.entries(results)) {
    list.sort((a, b) => a - b);
    console.log(`${String(length).padStart(5)} B  ${name.padEnd(18)} min ${list[0].toFixed(1).padStart(6)} ns  median ${list[4].toFixed(1).padStart(6)} ns`);
  }
}
