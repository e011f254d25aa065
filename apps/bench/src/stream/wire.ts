import { resolve } from 'node:path';
import * as protobuf from 'protobufjs';
import type { ServiceDefinition } from '@trellis/core';
import { loadProto } from '@trellis/codec-protobuf';
import { BENCH_PROTO } from '../payload.js';

/** bench.EchoRequest, the echo message every bench kind sends. */
export function echoType(): protobuf.Type {
  return protobuf.loadSync(BENCH_PROTO).lookupType('bench.EchoRequest');
}

/** `count` frames of `[uint32 length][protobuf]`, each message encoded on its own (as a sender would). */
export function frameMessages(type: protobuf.Type, message: protobuf.Message, count: number): Buffer {
  const parts: Uint8Array[] = [];
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const body = type.encode(message).finish();
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32BE(body.length, 0);
    parts.push(head, body);
    bytes += 4 + body.length;
  }
  return Buffer.concat(parts, bytes);
}

/** Splits `[uint32 length][body]` frames and hands each body over (decoded by the caller). */
export function frameReader(onMessage: (body: Uint8Array) => void): (chunk: Buffer) => void {
  let pending: Buffer | undefined;
  return (chunk) => {
    const buf = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
    pending = undefined;
    let offset = 0;
    while (buf.length - offset >= 4) {
      const length = buf.readUInt32BE(offset);
      if (buf.length - offset - 4 < length) break;
      onMessage(buf.subarray(offset + 4, offset + 4 + length));
      offset += 4 + length;
    }
    if (offset < buf.length) pending = buf.subarray(offset);
  };
}

/**
 * bench.BenchService's `Stream` method as the kernel sees it (RpcServer / RpcClient): a server stream
 * of the echo message with the codec an application gets from `loadProto` (@trellis/codec-protobuf:
 * plain objects in and out, int64 as strings — what grpc-js's proto-loader serializers do too).
 * `inPlace: false` hides the codec's fast path (encodedLength / encodeInto), so the kernel encodes
 * each message with `encode()` into a buffer of its own: the bench's `kernel-encode` side. `load` is
 * another build's `loadProto` for the `kernel-baseline` side (see `baselineLoader`).
 */
export function kernelStreamService(inPlace = true, load: typeof loadProto = loadProto): ServiceDefinition {
  const full = load(BENCH_PROTO).message('bench.EchoRequest');
  const codec = inPlace ? full : { encode: full.encode, decode: full.decode };
  return {
    name: 'bench.BenchService',
    methods: {
      Stream: { name: 'Stream', localName: 'stream', kind: 'server-streaming', requestCodec: codec, responseCodec: codec, idempotent: false, options: {} },
    },
  };
}

/**
 * `loadProto` of another build of @trellis/codec-protobuf — the bench's `--baseline-codec DIR` (a
 * `dist` directory, e.g. of the commit before a codec change, copied to
 * packages/codec-protobuf/.ab/dist so that its own imports resolve): the `kernel-baseline` side, an
 * A/B of two codec builds in one run. Undefined without the option (env TRELLIS_BASELINE_CODEC).
 */
export function baselineLoader(): typeof loadProto | undefined {
  const dir = process.env.TRELLIS_BASELINE_CODEC;
  if (dir === undefined || dir === '') return undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a build chosen at run time
  return (require(resolve(dir, 'index.js')) as { loadProto: typeof loadProto }).loadProto;
}
