import assert from 'node:assert/strict';
import { Code, RpcError } from '@trellis/core';
import { binaryMetadata, setBinaryMetadata, type GrpcClient, type GrpcClientStream } from '../../src/index.js';
import {
  ECHO_INITIAL, ECHO_TRAILING, INITIAL_VALUE, INTEROP_CASES, REQUEST_SIZES, RESPONSE_SIZES, SPECIAL_STATUS_MESSAGE,
  CASE_TIMEOUT_MS, TRAILING_VALUE, type CaseResult, type InteropCase,
} from './cases.js';
import { within } from '../fixtures/engine.js';
import { testingCodecs, zeros } from './messages.js';

const T = '/grpc.testing.TestService/';

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
async function drain(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const m of stream) out.push(m);
  return out;
}

export interface PeerAbilities {
  /**
   * Whether the server can compress responses (CompressedResponse). grpc-js servers cannot (their
   * source: "response compression is currently not supported"); against them server_compressed_unary
   * checks the call and payload, and that the flag is unset, instead of a flag the peer cannot set.
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

/** The interop client on the Trellis gRPC client engine: one function per case, asserting the spec. */
export function trellisInteropClient(client: GrpcClient, target: string, peer: PeerAbilities = FULL_PEER): Record<InteropCase, () => Promise<void>> {
  const c = testingCodecs();
  const unary = (method: string, bytes: Uint8Array, options = {}) => client.unary(target, T + method, bytes, options);
  const largeRequest = (extra: object = {}) => c.simpleRequest.encode({ responseSize: 314159, payload: { body: zeros(271828) }, ...extra });
  const assertLarge = (message: Uint8Array) => {
    const body = c.simpleResponse.decode(message).payload?.body;
    assert.equal(body?.length, 314159);
    assert.ok(body.every((b) => b === 0));
  };

  return {
    async empty_unary() {
      const response = await unary('EmptyCall', c.empty.encode({}));
      assert.ok(response.message, 'response is non-null');
      assert.equal(response.message.length, 0);
    },
    async large_unary() {
      assertLarge((await unary('UnaryCall', largeRequest())).message);
    },
    async client_compressed_unary() {
      // Probe: an uncompressed message that claims to expect compression must be refused.
      if (peer.serverSeesCompression) await expectError(unary('UnaryCall', largeRequest({ expectCompressed: { value: true } })), Code.INVALID_ARGUMENT);
      assertLarge((await unary('UnaryCall', largeRequest({ expectCompressed: { value: true } }), { compression: 'gzip' })).message);
      assertLarge((await unary('UnaryCall', largeRequest({ expectCompressed: { value: false } }))).message);
    },
    async server_compressed_unary() {
      const compressed = await unary('UnaryCall', largeRequest({ responseCompressed: { value: true } }));
      assert.equal(compressed.compressed, peer.serverCompresses, `response_compressed true: the message flag must be ${peer.serverCompresses ? 'set' : 'unset (this server cannot compress)'}`);
      assertLarge(compressed.message);
      const plain = await unary('UnaryCall', largeRequest({ responseCompressed: { value: false } }));
      assert.equal(plain.compressed, false, 'response_compressed false: the message flag must not be set');
      assertLarge(plain.message);
    },
    async client_streaming() {
      const requests = REQUEST_SIZES.map((size) => c.inputRequest.encode({ payload: { body: zeros(size) } }));
      const response = await client.clientStream(target, T + 'StreamingInputCall', requests);
      assert.equal(c.inputResponse.decode(response.message).aggregatedPayloadSize, 74922);
    },
    async server_streaming() {
      const request = c.outputRequest.encode({ responseParameters: RESPONSE_SIZES.map((size) => ({ size })) });
      const messages = await drain(client.serverStream(target, T + 'StreamingOutputCall', request));
      assert.deepEqual(messages.map((m) => c.outputResponse.decode(m).payload?.body?.length), RESPONSE_SIZES);
    },
    async ping_pong() {
      const call = client.stream(target, T + 'FullDuplexCall');
      const replies = call[Symbol.asyncIterator]();
      for (let i = 0; i < 4; i++) {
        await call.send(c.outputRequest.encode({ responseParameters: [{ size: RESPONSE_SIZES[i]! }], payload: { body: zeros(REQUEST_SIZES[i]!) } }));
        const reply = await replies.next();
        assert.equal(reply.done, false);
        assert.equal(c.outputResponse.decode(reply.value).payload?.body?.length, RESPONSE_SIZES[i]);
      }
      call.end();
      assert.equal((await replies.next()).done, true);
      assert.equal((await call.status).code, Code.OK);
    },
    async empty_stream() {
      const call = client.stream(target, T + 'FullDuplexCall', { requests: [] });
      assert.equal((await drain(call)).length, 0);
      assert.equal((await call.status).code, Code.OK);
    },
    async custom_metadata() {
      const metadata = setBinaryMetadata(new Map([[ECHO_INITIAL, INITIAL_VALUE]]), ECHO_TRAILING, TRAILING_VALUE);
      const unaryResponse = await unary('UnaryCall', largeRequest(), { metadata });
      assertLarge(unaryResponse.message);
      assert.equal(unaryResponse.headers.get(ECHO_INITIAL), INITIAL_VALUE);
      assert.deepEqual(binaryMetadata(unaryResponse.trailers, ECHO_TRAILING), TRAILING_VALUE);
      const call = client.stream(target, T + 'FullDuplexCall', {
        metadata,
        requests: [c.outputRequest.encode({ responseParameters: [{ size: 314159 }], payload: { body: zeros(271828) } })],
      });
      const messages = await drain(call);
      assert.equal(c.outputResponse.decode(messages[0]!).payload?.body?.length, 314159);
      const status = await call.status;
      assert.equal(status.code, Code.OK);
      assert.equal((await call.headers).get(ECHO_INITIAL), INITIAL_VALUE);
      assert.deepEqual(binaryMetadata(status.trailers, ECHO_TRAILING), TRAILING_VALUE);
    },
    async status_code_and_message() {
      const responseStatus = { code: 2, message: 'test status message' };
      await expectError(unary('UnaryCall', c.simpleRequest.encode({ responseStatus })), Code.UNKNOWN, 'test status message');
      const call = client.stream(target, T + 'FullDuplexCall', { requests: [c.outputRequest.encode({ responseStatus })] });
      await expectError(drain(call), Code.UNKNOWN, 'test status message');
    },
    async special_status_message() {
      const responseStatus = { code: 2, message: SPECIAL_STATUS_MESSAGE };
      await expectError(unary('UnaryCall', c.simpleRequest.encode({ responseStatus })), Code.UNKNOWN, SPECIAL_STATUS_MESSAGE);
    },
    async unimplemented_method() {
      await expectError(unary('UnimplementedCall', c.empty.encode({})), Code.UNIMPLEMENTED);
    },
    async unimplemented_service() {
      await expectError(client.unary(target, '/grpc.testing.UnimplementedService/UnimplementedCall', c.empty.encode({})), Code.UNIMPLEMENTED);
    },
    async timeout_on_sleeping_server() {
      const call = client.stream(target, T + 'FullDuplexCall', { timeoutMs: 1 });
      call.send(c.outputRequest.encode({ payload: { body: zeros(27182) } })).catch(() => undefined);
      await expectError(drain(call), Code.DEADLINE_EXCEEDED);
    },
    async cancel_after_begin() {
      const controller = new AbortController();
      const call = client.clientStream(target, T + 'StreamingInputCall', (async function* () {
        // Metadata is out; no payload is ever sent.
        await new Promise((resolve) => setTimeout(resolve, 1e9).unref());
        yield new Uint8Array(0);
      })(), { signal: controller.signal });
      controller.abort();
      await expectError(call, Code.CANCELLED);
    },
    async cancel_after_first_response() {
      const call: GrpcClientStream = client.stream(target, T + 'FullDuplexCall');
      await call.send(c.outputRequest.encode({ responseParameters: [{ size: 31415 }], payload: { body: zeros(27182) } }));
      const replies = call[Symbol.asyncIterator]();
      const first = await replies.next();
      assert.equal(c.outputResponse.decode(first.value).payload?.body?.length, 31415);
      call.cancel();
      assert.equal((await call.status).code, Code.CANCELLED);
    },
  };
}

/** Runs every case in order, each isolated: a failure is reported, the next case still runs. */
export async function runTrellisClient(client: GrpcClient, target: string, peer?: PeerAbilities): Promise<CaseResult[]> {
  const cases = trellisInteropClient(client, target, peer);
  const results: CaseResult[] = [];
  for (const name of INTEROP_CASES) {
    try {
      await within(cases[name](), CASE_TIMEOUT_MS, name);
      results.push({ case: name, ok: true });
    } catch (error) {
      results.push({ case: name, ok: false, error: (error as Error).stack ?? String(error) });
    }
  }
  return results;
}
