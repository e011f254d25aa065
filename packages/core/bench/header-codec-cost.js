'use strict';
// The native transport's request header, per frame, in one thread: what the client's
// requestFrameSize + writeRequestFrame cost (into a write slab), and the server's
// decodeRequestHeaderInto with a connection's header memo, for a header with no metadata and with
// one fixed credential (apps/bench's clientAuth token: a 47-byte metadata block). The difference
// between the two rows is the credential's cost on each side of the wire.
//
//   node packages/core/bench/header-codec-cost.js [--root <a checkout with packages/core built>]
//
// Min and median ns of 9 rounds, process CPU time (user + system: less moved than wall time by
// other processes on a shared machine): a timing (compare builds one run after another).
const path = require('node:path');

const argv = process.argv.slice(2);
const rootAt = argv.indexOf('--root');
const ROOT = rootAt >= 0 ? path.resolve(argv[rootAt + 1]) : path.resolve(__dirname, '../../..');
const codec = require(path.join(ROOT, 'packages/core/dist/transport/header-codec.js'));
const { FixedMetadata, NO_METADATA } = require(path.join(ROOT, 'packages/core/dist/metadata.js'));
const N = Number(process.env.HEADER_COST_FRAMES ?? 2_000_000);
const BODY = 40;
const limits = { maxHeaderSize: 16384, maxBodySize: 4 << 20, maxMetadataEntries: 64 };
const slab = Buffer.allocUnsafe(256 * 1024);
const header = (metadata) => ({ group: 'default', service: 'bench.BenchService', version: '1.0.0', method: 'Echo', timeoutMs: 9999, attempt: 1, metadata });

/** Process CPU ns since `t0` (a process.cpuUsage() reading). */
function cpuNs(t0) {
  const used = process.cpuUsage(t0);
  return (used.user + used.system) * 1000;
}

function encode(h) {
  let at = 0;
  const t0 = process.cpuUsage();
  for (let i = 0; i < N; i++) {
    const size = codec.requestFrameSize(h, BODY, limits);
    codec.writeRequestFrame(slab, at, i, BODY);
    at += size;
    if (at > 200_000) at = 0;
  }
  return cpuNs(t0) / N;
}

function decode(h) {
  const frame = Buffer.allocUnsafe(codec.requestFrameSize(h, BODY, limits));
  codec.writeRequestFrame(frame, 0, 1, BODY);
  const headerEnd = 16 + frame.readUInt16BE(6);
  const memo = codec.createHeaderMemo();
  const target = { metadata: undefined, receivedMetadata: undefined, group: '', service: '', version: '', method: '', timeoutMs: 0, attempt: 1 };
  const t0 = process.cpuUsage();
  for (let i = 0; i < N; i++) {
    target.metadata = undefined;
    codec.decodeRequestHeaderInto(target, frame, 16, headerEnd, memo, 64);
  }
  return cpuNs(t0) / N;
}

const rows = {};
for (let round = 0; round < 9; round++) {
  for (const [name, h] of [['no metadata', header(NO_METADATA)], ['one credential', header(new FixedMetadata([['authorization', 'bench-token-0123456789abcdef']]))]]) {
    (rows[`client encode, ${name}`] ??= []).push(encode(h));
    (rows[`server decode, ${name}`] ??= []).push(decode(h));
  }
}
console.log(`request header per frame, process CPU (build: ${ROOT}; a timing)`);
for (const [row, ns] of Object.entries(rows)) {
  ns.sort((a, b) => a - b);
  console.log(`${row.padEnd(32)} ${ns[0].toFixed(1).padStart(6)} ns min, ${ns[4].toFixed(1).padStart(6)} median`);
}
