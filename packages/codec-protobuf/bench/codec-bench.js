'use strict';
// Micro-benchmark of one encode + decode of the testkit's EchoRequest with the default options.
// Not part of the tests. Build first: `pnpm exec tsc -p tsconfig.build.json && node bench/codec-bench.js`.
const path = require('node:path');
const protoLoader = require('@grpc/proto-loader');
const { loadProto } = require('../dist/index.js');

const ECHO_PROTO = path.join(__dirname, '..', '..', 'testkit', 'protos', 'echo.proto');
const codec = loadProto(ECHO_PROTO).message('trellis.test.EchoRequest');
// A typical small request: a short string, an int64 as a string, a few repeated ints.
const request = { message: 'hello world', id: '1234567890123', values: [1, 2, 3] };

const WARMUP = 300_000;
const ITERATIONS = 2_000_000;
const ROUNDS = 5;

// The reference: proto-loader's own serializers with the same conversion options (what grpc-js runs).
const reference = protoLoader.loadSync(ECHO_PROTO, { longs: String, enums: String, defaults: true, oneofs: true })[
  'trellis.test.EchoRequest'
];

let sink = 0;
function measure(label, pair) {
  for (let i = 0; i < WARMUP; i++) sink += pair().values.length;
  const results = [];
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < ITERATIONS; i++) sink += pair().values.length;
    results.push(Number(process.hrtime.bigint() - start) / ITERATIONS);
  }
  results.sort((a, b) => a - b);
  console.log(`${label}: median ${results[ROUNDS >> 1].toFixed(0)} ns, best ${results[0].toFixed(0)} ns per encode+decode`);
}

console.log(`EchoRequest, ${codec.encode(request).length} bytes, ${ROUNDS} rounds x ${ITERATIONS}, node ${process.version}`);
measure('@trellis/codec-protobuf      ', () => codec.decode(codec.encode(request)));
measure('proto-loader (de)serializers ', () => reference.deserialize(reference.serialize(request)));
if (sink === 0) console.log('unreachable');
