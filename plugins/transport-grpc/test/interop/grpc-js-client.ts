import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import {
  ECHO_INITIAL, ECHO_TRAILING, INITIAL_VALUE, REQUEST_SIZES, RESPONSE_SIZES, SPECIAL_STATUS_MESSAGE, TRAILING_VALUE,
  type CaseResult, type InteropCase,
} from './cases.js';
import { runCases } from './report.js';
import { testingCodecs, zeros } from './messages.js';

const T = '/grpc.testing.TestService/';
const GZIP = 2; // grpc-js's compression algorithm id for gzip

type Ser = (value: unknown) => Buffer;
type Des = (bytes: Buffer) => unknown;

function expectStatus(error: unknown, code: grpc.status, details?: string): void {
  const e = error as grpc.ServiceError;
  assert.ok(e && typeof e.code === 'number', `expected status ${grpc.status[code]}, got ${String(error)}`);
  assert.equal(e.code, code, `expected ${grpc.status[code]}, got ${grpc.status[e.code]}: ${e.details}`);
  if (details !== undefined) assert.equal(e.details, details);
}

/**
 * The interop client on @grpc/grpc-js (a thin driver written for these tests): each case follows
 * the interop descriptions. grpc-js does not expose the compressed flag of received messages, so
 * server_compressed_unary checks the call and the payload only.
 */
export function grpcJsInteropClient(target: string, credentials: grpc.ChannelCredentials, options: grpc.ChannelOptions = {}): {
  cases: Record<InteropCase, () => Promise<void>>;
  close(): void;
} {
  const c = testingCodecs();
  const plain = new grpc.Client(target, credentials, options);
  const gzip = new grpc.Client(target, credentials, { ...options, 'grpc.default_compression_algorithm': GZIP });
  const ser = (codec: { encode(v: never): Uint8Array }): Ser => (v) => Buffer.from(codec.encode(v as never));
  const des = (codec: { decode(b: Uint8Array): unknown }): Des => (b) => codec.decode(b);
  const unary = (client: grpc.Client, method: string, request: unknown, reqSer: Ser, resDes: Des, metadata = new grpc.Metadata(), callOptions: grpc.CallOptions = {}) => {
    let headers: grpc.Metadata | undefined;
    let status: grpc.StatusObject | undefined;
    const result = new Promise<{ value: unknown; headers?: grpc.Metadata; trailers?: grpc.Metadata }>((resolve, reject) => {
      const call = client.makeUnaryRequest(T + method, reqSer, resDes, request as never, metadata, callOptions, (error, value) => {
        // The status event follows the callback; wait for it so trailers are known.
        setImmediate(() => (error ? reject(error) : resolve({ value, headers, trailers: status?.metadata })));
      });
      call.on('metadata', (m) => (headers = m));
      call.on('status', (s) => (status = s));
    });
    return result;
  };
  const simple = (client: grpc.Client, request: object, metadata?: grpc.Metadata) =>
    unary(client, 'UnaryCall', request, ser(c.simpleRequest), des(c.simpleResponse), metadata);
  const large = (extra: object = {}) => ({ responseSize: 314159, payload: { body: zeros(271828) }, ...extra });
  const assertLarge = (value: unknown) => {
    const body = (value as { payload?: { body?: Buffer } }).payload?.body;
    assert.equal(body?.length, 314159);
  };
  const bidi = (metadata = new grpc.Metadata(), callOptions: grpc.CallOptions = {}) =>
    plain.makeBidiStreamRequest(T + 'FullDuplexCall', ser(c.outputRequest), des(c.outputResponse), metadata, callOptions);
  const collect = (call: grpc.ClientReadableStream<unknown>) => new Promise<{ messages: unknown[]; status: grpc.StatusObject; headers?: grpc.Metadata }>((resolve, reject) => {
    const messages: unknown[] = [];
    let headers: grpc.Metadata | undefined;
    call.on('metadata', (m) => (headers = m));
    call.on('data', (m) => messages.push(m));
    call.on('error', reject);
    call.on('status', (status) => {
      if (status.code === grpc.status.OK) resolve({ messages, status, headers });
    });
  });
  const sizes = (messages: unknown[]) => messages.map((m) => (m as { payload?: { body?: Buffer } }).payload?.body?.length);

  const cases: Record<InteropCase, () => Promise<void>> = {
    async empty_unary() {
      const { value } = await unary(plain, 'EmptyCall', {}, ser(c.empty), des(c.empty));
      assert.ok(value !== null && value !== undefined);
    },
    async large_unary() {
      assertLarge((await simple(plain, large())).value);
    },
    async client_compressed_unary() {
      await simple(plain, large({ expectCompressed: { value: true } })).then(
        () => assert.fail('the uncompressed probe must fail with INVALID_ARGUMENT'),
        (error) => expectStatus(error, grpc.status.INVALID_ARGUMENT),
      );
      assertLarge((await simple(gzip, large({ expectCompressed: { value: true } }))).value);
      assertLarge((await simple(plain, large({ expectCompressed: { value: false } }))).value);
    },
    async server_compressed_unary() {
      assertLarge((await simple(plain, large({ responseCompressed: { value: true } }))).value);
      assertLarge((await simple(plain, large({ responseCompressed: { value: false } }))).value);
    },
    async client_streaming() {
      const response = await new Promise<unknown>((resolve, reject) => {
        const call = plain.makeClientStreamRequest(T + 'StreamingInputCall', ser(c.inputRequest), des(c.inputResponse), (error, value) => (error ? reject(error) : resolve(value)));
        for (const size of REQUEST_SIZES) call.write({ payload: { body: zeros(size) } });
        call.end();
      });
      assert.equal((response as { aggregatedPayloadSize: number }).aggregatedPayloadSize, 74922);
    },
    async server_streaming() {
      const call = plain.makeServerStreamRequest(T + 'StreamingOutputCall', ser(c.outputRequest), des(c.outputResponse), { responseParameters: RESPONSE_SIZES.map((size) => ({ size })) } as never);
      assert.deepEqual(sizes((await collect(call)).messages), RESPONSE_SIZES);
    },
    async ping_pong() {
      const call = bidi();
      const done = collect(call);
      let index = 0;
      const received: number[] = [];
      await new Promise<void>((resolve, reject) => {
        call.on('data', (m: { payload?: { body?: Buffer } }) => {
          received.push(m.payload?.body?.length ?? -1);
          if (++index < 4) call.write({ responseParameters: [{ size: RESPONSE_SIZES[index] }], payload: { body: zeros(REQUEST_SIZES[index]!) } });
          else {
            call.end();
            resolve();
          }
        });
        call.on('error', reject);
        call.write({ responseParameters: [{ size: RESPONSE_SIZES[0] }], payload: { body: zeros(REQUEST_SIZES[0]!) } });
      });
      await done;
      assert.deepEqual(received, RESPONSE_SIZES);
    },
    async empty_stream() {
      const call = bidi();
      call.end();
      assert.equal((await collect(call)).messages.length, 0);
    },
    async custom_metadata() {
      const metadata = new grpc.Metadata();
      metadata.set(ECHO_INITIAL, INITIAL_VALUE);
      metadata.set(ECHO_TRAILING, TRAILING_VALUE);
      const result = await simple(plain, large(), metadata);
      assertLarge(result.value);
      assert.deepEqual(result.headers?.get(ECHO_INITIAL), [INITIAL_VALUE]);
      assert.deepEqual(result.trailers?.get(ECHO_TRAILING), [TRAILING_VALUE]);
      const call = bidi(metadata);
      const streamed = collect(call);
      call.write({ responseParameters: [{ size: 314159 }], payload: { body: zeros(271828) } });
      call.end();
      const { messages, status, headers } = await streamed;
      assert.deepEqual(sizes(messages), [314159]);
      assert.deepEqual(headers?.get(ECHO_INITIAL), [INITIAL_VALUE]);
      assert.deepEqual(status.metadata.get(ECHO_TRAILING), [TRAILING_VALUE]);
    },
    async status_code_and_message() {
      const responseStatus = { code: 2, message: 'test status message' };
      await simple(plain, { responseStatus }).then(() => assert.fail('expected UNKNOWN'), (e) => expectStatus(e, grpc.status.UNKNOWN, 'test status message'));
      const call = bidi();
      const result = collect(call);
      call.write({ responseStatus });
      call.end();
      await result.then(() => assert.fail('expected UNKNOWN'), (e) => expectStatus(e, grpc.status.UNKNOWN, 'test status message'));
    },
    async special_status_message() {
      await simple(plain, { responseStatus: { code: 2, message: SPECIAL_STATUS_MESSAGE } }).then(
        () => assert.fail('expected UNKNOWN'),
        (e) => expectStatus(e, grpc.status.UNKNOWN, SPECIAL_STATUS_MESSAGE),
      );
    },
    async unimplemented_method() {
      await unary(plain, 'UnimplementedCall', {}, ser(c.empty), des(c.empty)).then(() => assert.fail('expected UNIMPLEMENTED'), (e) => expectStatus(e, grpc.status.UNIMPLEMENTED));
    },
    async unimplemented_service() {
      await new Promise<void>((resolve, reject) => {
        plain.makeUnaryRequest('/grpc.testing.UnimplementedService/UnimplementedCall', ser(c.empty), des(c.empty), {} as never, (error) => {
          try {
            expectStatus(error, grpc.status.UNIMPLEMENTED);
            resolve();
          } catch (e) {
            reject(e);
          }
        });
      });
    },
    async timeout_on_sleeping_server() {
      const call = bidi(new grpc.Metadata(), { deadline: Date.now() + 1 });
      const result = collect(call);
      call.write({ payload: { body: zeros(27182) } });
      await result.then(() => assert.fail('expected DEADLINE_EXCEEDED'), (e) => expectStatus(e, grpc.status.DEADLINE_EXCEEDED));
    },
    async cancel_after_begin() {
      const result = new Promise((resolve, reject) => {
        const call = plain.makeClientStreamRequest(T + 'StreamingInputCall', ser(c.inputRequest), des(c.inputResponse), (error, value) => (error ? reject(error) : resolve(value)));
        call.cancel();
      });
      await result.then(() => assert.fail('expected CANCELLED'), (e) => expectStatus(e, grpc.status.CANCELLED));
    },
    async cancel_after_first_response() {
      const call = bidi();
      const outcome = new Promise<grpc.ServiceError>((resolve, reject) => {
        call.once('data', (m: { payload?: { body?: Buffer } }) => {
          try {
            assert.equal(m.payload?.body?.length, 31415);
          } catch (e) {
            reject(e);
          }
          call.cancel();
        });
        call.on('error', resolve);
        call.on('status', (s) => s.code === grpc.status.OK && reject(new Error('the call ended OK; expected CANCELLED')));
      });
      call.write({ responseParameters: [{ size: 31415 }], payload: { body: zeros(27182) } });
      expectStatus(await outcome, grpc.status.CANCELLED);
    },
  };
  return { cases, close: () => (plain.close(), gzip.close()) };
}

export async function runGrpcJsClient(target: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions): Promise<CaseResult[]> {
  const { cases, close } = grpcJsInteropClient(target, credentials, options);
  try {
    return await runCases(cases);
  } finally {
    close();
  }
}
