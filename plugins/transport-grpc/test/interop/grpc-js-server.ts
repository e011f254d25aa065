import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { ECHO_INITIAL, ECHO_TRAILING } from './cases.js';
import {
  testingCodecs, zeros, type EchoStatus, type ResponseParameters, type SimpleRequest, type StreamingInputCallRequest,
  type StreamingOutputCallRequest,
} from './messages.js';

/** Metadata key the driver's interceptor adds so handlers can see the request's grpc-encoding. */
const RECEIVED_ENCODING = 'x-interop-received-encoding';

/**
 * grpc-js strips `grpc-encoding` before handlers see the metadata and has no public way to tell
 * whether a request was compressed; its base call keeps the header in a private field. This driver
 * interceptor copies it into metadata (test code only) so the CompressedRequest feature can be
 * served. grpc-js servers cannot compress responses at all (its own source says so), so the
 * CompressedResponse feature is answered uncompressed.
 */
const exposeEncoding: grpc.ServerInterceptor = (_method, call) =>
  new grpc.ServerInterceptingCall(call, {
    start: (next) => next({
      onReceiveMetadata: (metadata, nextMetadata) => {
        const encoding = (call as unknown as { incomingEncoding?: string }).incomingEncoding ?? 'identity';
        metadata.set(RECEIVED_ENCODING, encoding);
        nextMetadata(metadata);
      },
    }),
  });

function echoStatus(status: EchoStatus | null | undefined): grpc.ServiceError | undefined {
  if (!status || status.code === 0) return undefined;
  return Object.assign(new Error(status.message), { code: status.code, details: status.message, metadata: new grpc.Metadata() });
}

function initialMetadata(call: { metadata: grpc.Metadata }): grpc.Metadata {
  const out = new grpc.Metadata();
  for (const value of call.metadata.get(ECHO_INITIAL)) out.add(ECHO_INITIAL, value);
  return out;
}

function trailingMetadata(call: { metadata: grpc.Metadata }): grpc.Metadata {
  const out = new grpc.Metadata();
  for (const value of call.metadata.get(ECHO_TRAILING)) out.add(ECHO_TRAILING, value);
  return out;
}

function compressionMissing(call: { metadata: grpc.Metadata }, expected: { value: boolean } | null | undefined): grpc.ServiceError | undefined {
  if (!expected?.value) return undefined;
  const encoding = call.metadata.get(RECEIVED_ENCODING)[0];
  if (encoding !== undefined && encoding !== 'identity') return undefined;
  return Object.assign(new Error('expected a compressed request'), { code: grpc.status.INVALID_ARGUMENT, details: 'expected a compressed request', metadata: new grpc.Metadata() });
}

/** grpc.testing.TestService on @grpc/grpc-js (a thin driver written for these tests). */
export async function startGrpcJsTestServer(credentials: grpc.ServerCredentials): Promise<{ port: number; close(): Promise<void> }> {
  const c = testingCodecs();
  const method = <Req, Res>(name: string, requestStream: boolean, responseStream: boolean, req: { encode(v: Req): Uint8Array; decode(b: Uint8Array): Req }, res: { encode(v: Res): Uint8Array; decode(b: Uint8Array): Res }) => ({
    path: `/grpc.testing.TestService/${name}`,
    requestStream,
    responseStream,
    requestSerialize: (v: Req) => Buffer.from(req.encode(v)),
    requestDeserialize: (b: Buffer) => req.decode(b),
    responseSerialize: (v: Res) => Buffer.from(res.encode(v)),
    responseDeserialize: (b: Buffer) => res.decode(b),
  });
  const definition = {
    EmptyCall: method('EmptyCall', false, false, c.empty, c.empty),
    UnaryCall: method('UnaryCall', false, false, c.simpleRequest, c.simpleResponse),
    StreamingOutputCall: method('StreamingOutputCall', false, true, c.outputRequest, c.outputResponse),
    StreamingInputCall: method('StreamingInputCall', true, false, c.inputRequest, c.inputResponse),
    FullDuplexCall: method('FullDuplexCall', true, true, c.outputRequest, c.outputResponse),
  } as unknown as grpc.ServiceDefinition;

  const respond = async (call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>, params: ResponseParameters[] | undefined) => {
    for (const p of params ?? []) {
      if (p.intervalUs) await sleep(p.intervalUs / 1000);
      if (!call.write({ payload: { body: zeros(p.size) } })) await new Promise((resolve) => call.once('drain', resolve));
    }
  };

  const implementation: grpc.UntypedServiceImplementation = {
    EmptyCall: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => callback(null, {}),
    UnaryCall: (call: grpc.ServerUnaryCall<SimpleRequest, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      call.sendMetadata(initialMetadata(call));
      const error = compressionMissing(call, call.request.expectCompressed) ?? echoStatus(call.request.responseStatus);
      const trailers = trailingMetadata(call);
      if (error) return callback(Object.assign(error, { metadata: trailers }));
      callback(null, { payload: { body: zeros(call.request.responseSize ?? 0) } }, trailers);
    },
    StreamingOutputCall: async (call: grpc.ServerWritableStream<StreamingOutputCallRequest, unknown>) => {
      call.sendMetadata(initialMetadata(call));
      await respond(call, call.request.responseParameters);
      const error = echoStatus(call.request.responseStatus);
      if (error) call.emit('error', error);
      else call.end(trailingMetadata(call));
    },
    StreamingInputCall: (call: grpc.ServerReadableStream<StreamingInputCallRequest, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      let total = 0;
      let failed = false;
      call.on('data', (request: StreamingInputCallRequest) => {
        const error = compressionMissing(call, request.expectCompressed);
        if (error && !failed) {
          failed = true;
          callback(error);
        }
        total += request.payload?.body?.length ?? 0;
      });
      call.on('end', () => !failed && callback(null, { aggregatedPayloadSize: total }));
      call.on('error', () => undefined);
    },
    FullDuplexCall: (call: grpc.ServerDuplexStream<StreamingOutputCallRequest, unknown>) => {
      call.sendMetadata(initialMetadata(call));
      const trailers = trailingMetadata(call);
      let chain = Promise.resolve();
      let failed = false;
      call.on('data', (request: StreamingOutputCallRequest) => {
        chain = chain.then(async () => {
          if (failed) return;
          const error = echoStatus(request.responseStatus);
          if (error) {
            failed = true;
            call.emit('error', Object.assign(error, { metadata: trailers }));
            return;
          }
          await respond(call, request.responseParameters);
        });
      });
      call.on('end', () => chain.then(() => !failed && call.end(trailers)));
      call.on('error', () => undefined);
    },
  };

  const server = new grpc.Server({ interceptors: [exposeEncoding] });
  server.addService(definition, implementation);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', credentials, (error, p) => (error ? reject(error) : resolve(p))));
  return { port, close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) };
}
