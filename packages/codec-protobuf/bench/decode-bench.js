'use strict';
// Micro-benchmark of the object decoder (src/object-decoder.ts: bytes straight to the plain object)
// against protobufjs's decode over the same bounds-checked reader + toObject with the same options
// (what the codec did before): the stream bench's echo message (a 100-character string, an int64,
// 10 values; 116 bytes). CPU ns per message (process.cpuUsage), the two alternated, best of 5
// rounds. Not part of the tests. Build first:
// `pnpm exec tsc -p tsconfig.build.json && taskset -c 1 node bench/decode-bench.js`.
const path = require('node:path');
const { loadProto } = require('../dist/index.js');
const { strictReader } = require('../dist/strict-reader.js');
const { resolveLoadOptions } = require('../dist/load-options.js');

const BENCH_PROTO = path.join(__dirname, '..', '..', '..', 'apps', 'bench', 'protos', 'bench.proto');
const proto = loadProto(BENCH_PROTO);
const codec = proto.message('bench.EchoRequest');
const Echo = proto.root.lookupType('bench.EchoRequest');
const conversion = resolveLoadOptions({}).conversion;
const bytes = Buffer.from(codec.encode({ message: 'x'.repeat(100), id: '1', values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }));
const N = 300_000;

const sides = {
  'protobufjs decode + toObject': (b) => Echo.toObject(Echo.decode(strictReader(b)), conversion),
  'codec.decode (object decoder)': (b) => codec.decode(b),
};
const best = {};
for (let round = 0; round < 5; round++) {
  for (const [name, decode] of Object.entries(sides)) {
    const start = process.cpuUsage();
    for (let i = 0; i < N; i++) decode(bytes);
    const used = process.cpuUsage(start);
    best[name] = Math.min(best[name] ?? Infinity, ((used.user + used.system) * 1000) / N);
  }
}
for (const [name, ns] of Object.entries(best)) console.log(`${name.padEnd(32)} ${ns.toFixed(0)} ns/message`);
const [before, after] = Object.values(best);
console.log(`object decoder ÷ decode + toObject: ${(after / before).toFixed(2)}`);
