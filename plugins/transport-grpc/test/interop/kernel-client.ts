import assert from 'node:assert/strict';
import { Code, RpcClient, RpcError, type ResponseStream } from '@trellis/core';
import { GrpcClientTransport, type GrpcClientTransportOptions } from '../../src/index.js';
import {
  CASE_TIMEOUT_MS, ECHO_INITIAL, ECHO_TRAILING, INITIAL_VALUE, REQUEST_SIZES, RESPONSE_SIZES, SPECIAL_STATUS_MESSAGE,
  TRAILING_VALUE, type CaseResult, type InteropCase,
} from './cases.js';
import { runCases } from './report.js';
import { testingServices } from './kernel-test-service.js';
import {
  zeros, type SimpleRequest, type SimpleResponse, type StreamingInputCallRequest, type StreamingInputCallResponse,
  type StreamingOutputCallRequest, type StreamingOutputCallResponse,
} from './messages.js';

async function expectError(promise: Promise<unknown>, code: Code, message?: string): Promise<RpcError> {
  const error = await promise.then(
    () => assert.fail(`expected ${Code[code]}, the call succeeded`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof RpcError, `expected an RpcError, got ${String(error)}`);
  assert.equal(error.code, code, `expected ${Code[code]}, got ${Code[error.code]}: ${error.message}`);
  if (message !== undefined) assert.equal(error.message, message);
  return error;
}

/** Reads a stream to its end: the messages, or the error the loop threw. */
async function drain<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const m of stream) out.push(m);
  return out;
}

/** A request stream the case writes to one message at a time (ping_pong needs each answer before the next request). */
class Requests<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private ended = false;
  private wake: (() => void) | undefined;

  push(item: T): void {
    this.items.push(item);
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  // Hand-written rather than a generator: `return()` (the kernel stopping the request pump on
  // cancel) must settle at once even while `next()` waits for a message that never comes.
  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: async () => {
        for (;;) {
          if (this.items.length > 0) return { done: false, value: this.items.shift()! };
          if (this.ended) return { done: true, value: undefined };
          await new Promise<void>((resolve) => (this.wake = resolve));
        }
      },
      return: async () => {
        this.end();
        return { done: true, value: undefined };
      },
    };
  }
}

export interface PeerAbilities {
  /**
   * Whether the server can compress responses (CompressedResponse). grpc-js servers cannot (their
   * source: "response compression is currently not supported"); against them server_compressed_unary
   * checks the call and payload, and that the response came uncompressed, instead of a flag the peer cannot set.
   */
  readonly serverCompresses: boolean;
  /**
   * Whether the server can tell a compressed request (CompressedRequest). grpcio's Python server
   * API cannot (C-core strips grpc-encoding and keeps no per-message flag; the official Python
   * interop server does not serve the feature): against it client_compressed_unary skips the probe
   * and checks that the compressed and uncompressed calls succeed.
   */
  readonly serverSeesCompression: boolean;
}

const FULL_PEER: PeerAbilities = { serverCompresses: true, serverSeesCompression: true };

/** RpcClients for TestService and UnimplementedService at one gRPC target, through the kernel's whole pipeline. */
export class KernelInteropClients {
  readonly test: RpcClient;
  readonly unimplemented: RpcClient;

  /** `address`: `grpc://host:port` or `grpcs://host:port`. */
  constructor(address: string, transport: GrpcClientTransportOptions = {}) {
    const services = testingServices();
    const options = { addresses: [address], timeoutMs: CASE_TIMEOUT_MS };
    this.test = new RpcClient({ ...options, service: services.test, transports: { grpc: new GrpcClientTransport(transport) } });
    this.unimplemented = new RpcClient({ ...options, service: services.unimplemented, transports: { grpc: new GrpcClientTransport(transport) } });
  }

  async close(): Promise<void> {
    await Promise.all([this.test.close(), this.unimplemented.close()]);
  }
}

/**
 * The interop client as an application writes it: untyped kernel calls through `RpcClient` —
 * `invoke` / `invokeWithResult` for unary and client-streaming methods, `stream()` for server and
 * bidi streams, per-call metadata, `timeoutMs` and `signal` — one function per case, asserting what
 * the interop descriptions ask the client to assert.
 */
export function kernelInteropClient(clients: KernelInteropClients, peer: PeerAbilities = FULL_PEER): Record<InteropCase, () => Promise<void>> {
  const { test: client, unimplemented } = clients;
  const unary = (method: string, request: object, options = {}) => client.invoke(method, request, options) as Promise<SimpleResponse>;
  const stream = (method: string, request: unknown, options = {}) => client.stream(method, request, options) as ResponseStream<StreamingOutputCallResponse>;
  const largeRequest = (extra: Partial<SimpleRequest> = {}): SimpleRequest => ({ responseSize: 314159, payload: { body: zeros(271828) }, ...extra });
  const assertLarge = (response: SimpleResponse) => {
    const body = response.payload?.body;
    assert.equal(body?.length, 314159);
    assert.ok(body.every((b) => b === 0));
  };
  const sizeOf = (response: StreamingOutputCallResponse | undefined) => response?.payload?.body?.length ?? 0;

  return {
    async empty_unary() {
      assert.deepEqual(await client.invoke('EmptyCall', {}), {});
    },
    async large_unary() {
      assertLarge(await unary('UnaryCall', largeRequest()));
    },
    async client_compressed_unary() {
      // Probe: an uncompressed message that claims to expect compression must be refused.
      if (peer.serverSeesCompression) await expectError(unary('UnaryCall', largeRequest({ expectCompressed: { value: true } })), Code.INVALID_ARGUMENT);
      // `grpc-encoding` in a call's metadata compresses that call's request (GrpcClientTransport).
      assertLarge(await unary('UnaryCall', largeRequest({ expectCompressed: { value: true } }), { metadata: { 'grpc-encoding': 'gzip' } }));
      assertLarge(await unary('UnaryCall', largeRequest({ expectCompressed: { value: false } })));
    },
    async server_compressed_unary() {
      // The response metadata names `grpc-encoding` exactly when the response message arrived compressed.
      const compressed = await client.invokeWithResult('UnaryCall', largeRequest({ responseCompressed: { value: true } }));
      assert.equal(compressed.metadata.get('grpc-encoding'), peer.serverCompresses ? 'gzip' : undefined,
        `response_compressed true: the message must arrive ${peer.serverCompresses ? 'compressed' : 'uncompressed (this server cannot compress)'}`);
      assertLarge(compressed.response as SimpleResponse);
      const plain = await client.invokeWithResult('UnaryCall', largeRequest({ responseCompressed: { value: false } }));
      assert.equal(plain.metadata.get('grpc-encoding'), undefined, 'response_compressed false: the message must arrive uncompressed');
      assertLarge(plain.response as SimpleResponse);
    },
    async client_streaming() {
      const requests: StreamingInputCallRequest[] = REQUEST_SIZES.map((size) => ({ payload: { body: zeros(size) } }));
      const response = await client.invoke('StreamingInputCall', requests) as StreamingInputCallResponse;
      assert.equal(response.aggregatedPayloadSize, 74922);
    },
    async server_streaming() {
      const request: StreamingOutputCallRequest = { responseParameters: RESPONSE_SIZES.map((size) => ({ size })) };
      assert.deepEqual((await drain(stream('StreamingOutputCall', request))).map(sizeOf), RESPONSE_SIZES);
    },
    async ping_pong() {
      const requests = new Requests<StreamingOutputCallRequest>();
      const call = stream('FullDuplexCall', requests);
      const replies = call[Symbol.asyncIterator]();
      for (let i = 0; i < 4; i++) {
        requests.push({ responseParameters: [{ size: RESPONSE_SIZES[i]! }], payload: { body: zeros(REQUEST_SIZES[i]!) } });
        const reply = await replies.next();
        assert.equal(reply.done, false);
        assert.equal(sizeOf(reply.value), RESPONSE_SIZES[i]);
      }
      requests.end();
      assert.equal((await replies.next()).done, true);
      await call.trailers; // the stream ended with OK
    },
    async empty_stream() {
      const call = stream('FullDuplexCall', []);
      assert.equal((await drain(call)).length, 0);
      await call.trailers;
    },
    async custom_metadata() {
      const metadata = { [ECHO_INITIAL]: INITIAL_VALUE, [ECHO_TRAILING]: TRAILING_VALUE.toString('base64') };
      // A unary call's response metadata is one map on the kernel API (headers and trailers merged).
      const result = await client.invokeWithResult('UnaryCall', largeRequest(), { metadata });
      assertLarge(result.response as SimpleResponse);
      assert.equal(result.metadata.get(ECHO_INITIAL), INITIAL_VALUE);
      assert.deepEqual(Buffer.from(result.metadata.get(ECHO_TRAILING) ?? '', 'base64'), TRAILING_VALUE);
      // A stream keeps them apart: the initial value in the headers, the -bin value in the trailers.
      const call = stream('FullDuplexCall', [{ responseParameters: [{ size: 314159 }], payload: { body: zeros(271828) } }], { metadata });
      const messages = await drain(call);
      assert.equal(sizeOf(messages[0]), 314159);
      assert.equal((await call.headers).get(ECHO_INITIAL), INITIAL_VALUE);
      const trailers = await call.trailers;
      assert.equal(trailers.get(ECHO_INITIAL), undefined, 'the initial value is not repeated in the trailers');
      assert.deepEqual(Buffer.from(trailers.get(ECHO_TRAILING) ?? '', 'base64'), TRAILING_VALUE);
    },
    async status_code_and_message() {
      const responseStatus = { code: 2, message: 'test status message' };
      await expectError(unary('UnaryCall', { responseStatus }), Code.UNKNOWN, 'test status message');
      await expectError(drain(stream('FullDuplexCall', [{ responseStatus }])), Code.UNKNOWN, 'test status message');
    },
    async special_status_message() {
      const responseStatus = { code: 2, message: SPECIAL_STATUS_MESSAGE };
      await expectError(unary('UnaryCall', { responseStatus }), Code.UNKNOWN, SPECIAL_STATUS_MESSAGE);
    },
    async unimplemented_method() {
      await expectError(client.invoke('UnimplementedCall', {}), Code.UNIMPLEMENTED);
    },
    async unimplemented_service() {
      await expectError(unimplemented.invoke('UnimplementedCall', {}), Code.UNIMPLEMENTED);
    },
    async timeout_on_sleeping_server() {
      const requests = new Requests<StreamingOutputCallRequest>();
      requests.push({ payload: { body: zeros(27182) } }); // and never half-closes
      await expectError(drain(stream('FullDuplexCall', requests, { timeoutMs: 1 })), Code.DEADLINE_EXCEEDED);
    },
    async cancel_after_begin() {
      const controller = new AbortController();
      // No payload is ever sent; the stream stays open until the caller cancels.
      const call = client.invoke('StreamingInputCall', new Requests<StreamingInputCallRequest>(), { signal: controller.signal });
      controller.abort();
      await expectError(call, Code.CANCELLED);
    },
    async cancel_after_first_response() {
      const requests = new Requests<StreamingOutputCallRequest>();
      const call = stream('FullDuplexCall', requests);
      requests.push({ responseParameters: [{ size: 31415 }], payload: { body: zeros(27182) } });
      const replies = call[Symbol.asyncIterator]();
      const first = await replies.next();
      assert.equal(sizeOf(first.value), 31415);
      call.cancel();
      await expectError(replies.next(), Code.CANCELLED);
      await expectError(call.trailers, Code.CANCELLED);
    },
  };
}

/** Every case against one server (see report.ts's runCases). */
export function runKernelClient(clients: KernelInteropClients, peer?: PeerAbilities): Promise<CaseResult[]> {
  return runCases(kernelInteropClient(clients, peer));
}
