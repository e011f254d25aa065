import { setTimeout as sleep } from 'node:timers/promises';
import { Code, RpcError } from '@trellis/core';
import type { GrpcMethodHandler, GrpcServerCall } from '../../src/index.js';
import { testingCodecs, zeros, type EchoStatus, type ResponseParameters } from './messages.js';

/**
 * grpc.testing.TestService on the Trellis gRPC engine, with the server features the interop test
 * descriptions name: EmptyCall, UnaryCall, StreamingOutputCall, StreamingInputCall, FullDuplexCall,
 * HalfDuplexCall, CompressedRequest/Response, Echo Status, Echo Metadata, interval_us.
 * UnimplementedCall is left out on purpose: the engine answers UNIMPLEMENTED.
 */
export function trellisTestService(): Record<string, GrpcMethodHandler> {
  const c = testingCodecs();

  function echoMetadata(call: GrpcServerCall): void {
    const initial = call.metadata.get('x-grpc-test-echo-initial');
    if (initial !== undefined) call.responseHeaders.set('x-grpc-test-echo-initial', initial);
    const trailing = call.metadata.get('x-grpc-test-echo-trailing-bin');
    if (trailing !== undefined) call.trailers.set('x-grpc-test-echo-trailing-bin', trailing);
  }

  function echoStatus(status: EchoStatus | null | undefined): void {
    if (status && status.code !== 0) throw new RpcError(status.code as Code, status.message);
  }

  function expectCompressed(call: GrpcServerCall, expected: { value: boolean } | null | undefined): void {
    if (expected?.value && !call.requestCompressed) {
      throw new RpcError(Code.INVALID_ARGUMENT, 'expected a compressed request message');
    }
  }

  async function respond(call: GrpcServerCall, params: ResponseParameters[] | undefined): Promise<void> {
    // The encoding goes out with the headers, so it is chosen before the first message.
    if (params?.some((p) => p.compressed?.value)) call.setCompression('gzip');
    for (const p of params ?? []) {
      if (p.intervalUs) await sleep(p.intervalUs / 1000);
      const compressed = p.compressed?.value === true;
      await call.send(c.outputResponse.encode({ payload: { body: zeros(p.size) } }), { compress: compressed });
    }
  }

  return {
    EmptyCall: { kind: 'unary', handle: () => c.empty.encode({}) },
    UnaryCall: {
      kind: 'unary',
      handle(call) {
        echoMetadata(call);
        const request = c.simpleRequest.decode(call.request);
        expectCompressed(call, request.expectCompressed);
        echoStatus(request.responseStatus);
        if (request.responseCompressed?.value) call.setCompression('gzip');
        return c.simpleResponse.encode({ payload: { body: zeros(request.responseSize ?? 0) } });
      },
    },
    StreamingOutputCall: {
      kind: 'server-streaming',
      async handle(call) {
        echoMetadata(call);
        const request = c.outputRequest.decode(call.request);
        await respond(call, request.responseParameters);
        echoStatus(request.responseStatus);
      },
    },
    StreamingInputCall: {
      kind: 'client-streaming',
      async handle(call) {
        let total = 0;
        for await (const bytes of call.requests) {
          const request = c.inputRequest.decode(bytes);
          expectCompressed(call, request.expectCompressed);
          total += request.payload?.body?.length ?? 0;
        }
        return c.inputResponse.encode({ aggregatedPayloadSize: total });
      },
    },
    FullDuplexCall: {
      kind: 'bidi-streaming',
      async handle(call) {
        echoMetadata(call);
        for await (const bytes of call.requests) {
          const request = c.outputRequest.decode(bytes);
          echoStatus(request.responseStatus);
          await respond(call, request.responseParameters);
        }
      },
    },
    HalfDuplexCall: {
      kind: 'bidi-streaming',
      async handle(call) {
        echoMetadata(call);
        const all = [];
        for await (const bytes of call.requests) all.push(c.outputRequest.decode(bytes));
        for (const request of all) {
          echoStatus(request.responseStatus);
          await respond(call, request.responseParameters);
        }
      },
    },
  };
}
