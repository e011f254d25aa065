import { setTimeout as sleep } from 'node:timers/promises';
import { loadProto } from '@trellis/codec-protobuf';
import { Code, RpcError, RpcServer, type ServerInvocation, type ServiceDefinition } from '@trellis/core';
import { ENCODING_METADATA, GrpcServerTransport, type GrpcServerTransportOptions } from '../../src/index.js';
import { ECHO_INITIAL, ECHO_TRAILING } from './cases.js';
import {
  GRPC_PROTO_DIR, TEST_PROTO, zeros, type EchoStatus, type ResponseParameters, type SimpleRequest, type SimpleResponse,
  type StreamingInputCallRequest, type StreamingInputCallResponse, type StreamingOutputCallRequest, type StreamingOutputCallResponse,
} from './messages.js';

/** grpc.testing.TestService and UnimplementedService as the kernel sees them (Debian's official test.proto). */
export function testingServices(): { test: ServiceDefinition; unimplemented: ServiceDefinition } {
  const proto = loadProto(TEST_PROTO, { includeDirs: [GRPC_PROTO_DIR] });
  return { test: proto.service('grpc.testing.TestService'), unimplemented: proto.service('grpc.testing.UnimplementedService') };
}

/**
 * grpc.testing.TestService as an application writes it: ordinary kernel handlers (a unary function,
 * `async *` server streams, a client stream over an async iterable, bidi generators) with the server
 * features the interop descriptions name — Echo Metadata (the initial value into
 * `call.responseHeaders`, the `-bin` trailer into `call.responseMetadata`, both for unary calls
 * too), Echo Status (a thrown RpcError), CompressedRequest (the request's `grpc-encoding`, which
 * the gRPC listener puts into `call.metadata`), CompressedResponse (`grpc-encoding` in
 * `call.responseHeaders`), interval_us (a sleep that `call.signal` cuts short).
 * The kernel wants a handler for every method of the service, so UnimplementedCall throws
 * UNIMPLEMENTED, as the stubs other languages generate do; the unimplemented_service case meets the
 * kernel's own answer for a service it does not serve.
 */
export function testServiceHandlers() {
  function echoMetadata(call: ServerInvocation): void {
    const initial = call.metadata.get(ECHO_INITIAL);
    if (initial !== undefined) call.responseHeaders.set(ECHO_INITIAL, initial);
    // A -bin value is its bytes as base64 text, as on the wire: echoed unchanged.
    const trailing = call.metadata.get(ECHO_TRAILING);
    if (trailing !== undefined) call.responseMetadata.set(ECHO_TRAILING, trailing);
  }

  function echoStatus(status: EchoStatus | null | undefined): void {
    if (status && status.code !== 0) throw new RpcError(status.code as Code, status.message);
  }

  function expectCompressed(call: ServerInvocation, expected: { value: boolean } | null | undefined): void {
    if (expected?.value && call.metadata.get(ENCODING_METADATA) === undefined) {
      throw new RpcError(Code.INVALID_ARGUMENT, 'expected a compressed request message');
    }
  }

  async function* respond(call: ServerInvocation, params: ResponseParameters[] | null | undefined): AsyncGenerator<StreamingOutputCallResponse> {
    for (const p of params ?? []) {
      if (p.intervalUs) await sleep(p.intervalUs / 1000, undefined, { signal: call.signal });
      yield { payload: { body: zeros(p.size) } };
    }
  }

  function unaryCall(request: SimpleRequest, call: ServerInvocation): SimpleResponse {
    echoMetadata(call);
    expectCompressed(call, request.expectCompressed);
    echoStatus(request.responseStatus);
    if (request.responseCompressed?.value) call.responseHeaders.set(ENCODING_METADATA, 'gzip');
    return { payload: { body: zeros(request.responseSize ?? 0) } };
  }

  return {
    emptyCall: () => ({}),
    unaryCall,
    // Served like UnaryCall: the caching it is named for is an HTTP proxy's business (GET requests).
    cacheableUnaryCall: unaryCall,
    unimplementedCall() {
      throw new RpcError(Code.UNIMPLEMENTED, 'grpc.testing.TestService/UnimplementedCall is not implemented');
    },
    async *streamingOutputCall(request: StreamingOutputCallRequest, call: ServerInvocation) {
      echoMetadata(call);
      yield* respond(call, request.responseParameters);
      echoStatus(request.responseStatus);
    },
    async streamingInputCall(requests: AsyncIterable<StreamingInputCallRequest>, call: ServerInvocation): Promise<StreamingInputCallResponse> {
      let total = 0;
      for await (const request of requests) {
        expectCompressed(call, request.expectCompressed);
        total += request.payload?.body?.length ?? 0;
      }
      return { aggregatedPayloadSize: total };
    },
    async *fullDuplexCall(requests: AsyncIterable<StreamingOutputCallRequest>, call: ServerInvocation) {
      echoMetadata(call);
      for await (const request of requests) {
        echoStatus(request.responseStatus);
        yield* respond(call, request.responseParameters);
      }
    },
    async *halfDuplexCall(requests: AsyncIterable<StreamingOutputCallRequest>, call: ServerInvocation) {
      echoMetadata(call);
      const all: StreamingOutputCallRequest[] = [];
      for await (const request of requests) all.push(request);
      for (const request of all) {
        echoStatus(request.responseStatus);
        yield* respond(call, request.responseParameters);
      }
    },
  };
}

/** An RpcServer serving TestService on one gRPC listener (h2c, or TLS with `options.tls`). */
export async function startKernelTestServer(options: GrpcServerTransportOptions = {}): Promise<RpcServer> {
  const server = new RpcServer({
    host: '127.0.0.1',
    listeners: [{ protocol: 'grpc', port: 0, transport: new GrpcServerTransport(options) }],
  }).addService(testingServices().test, testServiceHandlers());
  await server.start();
  return server;
}
