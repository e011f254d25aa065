/**
 * What Trellis's codec does beyond the tight raw kind's, per echo message, in this process: Trellis
 * encodes with `fromObject` + `encode` and decodes with `decode` over a bounds-checked reader +
 * `toObject` (int64 as a string); tight-raw encodes the plain object with `encode` and decodes with
 * `decode` (int64 as a Long). Both produce the same bytes (checked before timing), so the difference
 * is conversion only — work the kernel engineer may choose to keep, but should see the price of.
 *
 *   node dist/codec-cost.js
 */
import { loadProto } from '@trellis/codec-protobuf';
import * as protobuf from 'protobufjs';
import { BENCH_PROTO, makeRequest } from './payload.js';

export interface CodecCost {
  /** ns per encode + decode of one message with Trellis's codec. */
  readonly trellisNs: number;
  /** ns per encode + decode with protobufjs encode()/decode() only (tight-raw). */
  readonly tightNs: number;
  /** Per call both sides convert twice (client: request out, response in; server: the reverse). */
  readonly extraUsPerCallBothSides: number;
}

function timeNs(iterations: number, fn: () => unknown): number {
  const start = process.hrtime.bigint();
  let sink: unknown;
  for (let i = 0; i < iterations; i++) sink = fn();
  if (sink === undefined) throw new Error('unreachable');
  return Number(process.hrtime.bigint() - start) / iterations;
}

export function measureCodecCost(iterations = 100_000, repeats = 9): CodecCost {
  const request = makeRequest(1_234_567);
  const trellis = loadProto(BENCH_PROTO).message('bench.EchoRequest');
  const type = protobuf.loadSync(BENCH_PROTO).lookupType('bench.EchoRequest');
  const trellisBytes = trellis.encode(request);
  const tightBytes = type.encode(request).finish();
  if (Buffer.compare(Buffer.from(trellisBytes), Buffer.from(tightBytes)) !== 0) {
    throw new Error('codec-cost: Trellis and protobufjs encode the echo message differently; the comparison would be unfair');
  }
  const trellisRound = () => trellis.decode(trellis.encode(request));
  const tightRound = () => type.decode(type.encode(request).finish());
  const trellisRuns: number[] = [];
  const tightRuns: number[] = [];
  timeNs(iterations, trellisRound);
  timeNs(iterations, tightRound);
  for (let r = 0; r < repeats; r++) {
    trellisRuns.push(timeNs(iterations, trellisRound));
    tightRuns.push(timeNs(iterations, tightRound));
  }
  // The fastest of the repeats: on a shared machine the others measure the neighbours.
  const trellisNs = Math.min(...trellisRuns);
  const tightNs = Math.min(...tightRuns);
  return { trellisNs, tightNs, extraUsPerCallBothSides: (2 * (trellisNs - tightNs)) / 1000 };
}

if (require.main === module) {
  const cost = measureCodecCost();
  console.log(`encode + decode of the echo message: Trellis codec ${cost.trellisNs.toFixed(0)} ns, protobufjs encode/decode only ${cost.tightNs.toFixed(0)} ns; ` +
    `conversion costs ${cost.extraUsPerCallBothSides.toFixed(2)} µs per call (both sides)`);
}
