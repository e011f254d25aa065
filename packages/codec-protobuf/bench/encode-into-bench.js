'use strict';
// Micro-benchmark of the in-place encoder (src/direct-encoder.ts) against encode() + a copy into the
// destination (what the transport did with every stream message before): the stream bench's echo
// message (a 100-character string, an int64, 10 values; 116 bytes) written one after the other into
// a 1 MiB buffer, as into a connection's write batch. CPU ns per message (process.cpuUsage), the
// last of 3 rounds. Not part of the tests. Build first:
// `pnpm exec tsc -p tsconfig.build.json && taskset -c 1 node bench/encode-into-bench.js`.
const path = require('node:path');
const { loadProto } = require('../dist/index.js');

const BENCH_PROTO = path.join(__dirname, '..', '..', '..', 'apps', 'bench', 'protos', 'bench.proto');
const codec = loadProto(BENCH_PROTO).message('bench.EchoRequest');
const message = { message: 'x'.repeat(100), id: '1', values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] };
const target = Buffer.allocUnsafe(1 << 20);
const N = 300_000;

function run(name, encodeAt) {
  let pos = 0;
  let ns = 0;
  for (let round = 0; round < 3; round++) {
    const start = process.cpuUsage();
    for (let i = 0; i < N; i++) {
      pos = encodeAt(pos);
      if (pos > target.length - 1024) pos = 0;
    }
    const used = process.cpuUsage(start);
    ns = ((used.user + used.system) * 1000) / N;
  }
  console.log(`${name.padEnd(40)} ${ns.toFixed(0)} ns/message`);
  return ns;
}

const viaEncode = run('encode() + copy into the buffer', (pos) => {
  const body = codec.encode(message);
  target.set(body, pos);
  return pos + body.length;
});
const inPlace = run('encodedLength() + encodeInto()', (pos) => {
  codec.encodedLength(message);
  return codec.encodeInto(message, target, pos);
});
console.log(`in place ÷ encode(): ${(inPlace / viaEncode).toFixed(2)}`);
