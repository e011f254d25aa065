import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadProto } from '@trellis/codec-protobuf';
import type { MessageCodec } from '@trellis/core';

/** Debian's grpc-proto: the official interop protos (scripts/ensure-registries.sh installs it). */
export const GRPC_PROTO_DIR = '/usr/share/grpc-proto';
export const TEST_PROTO = 'grpc/testing/test.proto';

/**
 * Why the official protos are not here, or undefined when they are. `npm test` installs them
 * (TRELLIS_REQUIRE_REGISTRIES=1 makes their absence a failure); a hand-run without them skips.
 */
export function grpcProtoMissing(): string | undefined {
  if (existsSync(join(GRPC_PROTO_DIR, TEST_PROTO))) return undefined;
  const reason = `${GRPC_PROTO_DIR} is missing (Debian's grpc-proto; scripts/ensure-registries.sh installs it)`;
  if (process.env.TRELLIS_REQUIRE_REGISTRIES === '1') throw new Error(reason);
  return reason;
}

export interface Payload { type?: string; body?: Buffer }
export interface EchoStatus { code: number; message: string }
export interface SimpleRequest {
  responseSize?: number;
  payload?: Payload | null;
  responseCompressed?: { value: boolean } | null;
  responseStatus?: EchoStatus | null;
  expectCompressed?: { value: boolean } | null;
}
export interface SimpleResponse { payload?: Payload | null }
export interface ResponseParameters { size: number; intervalUs?: number; compressed?: { value: boolean } | null }
export interface StreamingOutputCallRequest { responseParameters?: ResponseParameters[]; payload?: Payload | null; responseStatus?: EchoStatus | null }
export interface StreamingOutputCallResponse { payload?: Payload | null }
export interface StreamingInputCallRequest { payload?: Payload | null; expectCompressed?: { value: boolean } | null }
export interface StreamingInputCallResponse { aggregatedPayloadSize: number }

export interface TestingCodecs {
  empty: MessageCodec<Record<string, never>>;
  simpleRequest: MessageCodec<SimpleRequest>;
  simpleResponse: MessageCodec<SimpleResponse>;
  outputRequest: MessageCodec<StreamingOutputCallRequest>;
  outputResponse: MessageCodec<StreamingOutputCallResponse>;
  inputRequest: MessageCodec<StreamingInputCallRequest>;
  inputResponse: MessageCodec<StreamingInputCallResponse>;
}

let cached: TestingCodecs | undefined;

export function testingCodecs(): TestingCodecs {
  if (cached) return cached;
  const pkg = loadProto(TEST_PROTO, { includeDirs: [GRPC_PROTO_DIR] });
  cached = {
    empty: pkg.message('grpc.testing.Empty'),
    simpleRequest: pkg.message('grpc.testing.SimpleRequest'),
    simpleResponse: pkg.message('grpc.testing.SimpleResponse'),
    outputRequest: pkg.message('grpc.testing.StreamingOutputCallRequest'),
    outputResponse: pkg.message('grpc.testing.StreamingOutputCallResponse'),
    inputRequest: pkg.message('grpc.testing.StreamingInputCallRequest'),
    inputResponse: pkg.message('grpc.testing.StreamingInputCallResponse'),
  };
  return cached;
}

export const zeros = (size: number): Buffer => Buffer.alloc(size);
