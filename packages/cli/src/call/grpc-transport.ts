import { performance } from 'node:perf_hooks';
import { RpcError, type Metadata } from '@trellis/core';
import type { GrpcClient } from '@trellis/transport-grpc';
import { grpcUrl } from '../target.js';
import { grpcProvider } from './providers.js';
import { decodeMessage, encodeMessage } from '../proto/message-bytes.js';
import { CallFailed, type CallBase, type CallResult, type CallTransport, type StreamCall, type StreamResult, type UnaryCall } from './call-transport.js';

/**
 * gRPC through @trellis/transport-grpc's client engine: any gRPC server (grpc-go, grpc-java, grpc-js,
 * C-core, a Trellis provider on GrpcServerTransport), unary and the three stream kinds. A registry
 * target calls one of the providers whose instance document says `grpc` (or `grpcs`: TLS).
 */
export class GrpcTransport implements CallTransport {
  readonly protocol = 'grpc';

  constructor(private readonly client: GrpcClient) {}

  async unary(call: UnaryCall): Promise<CallResult> {
    const target = await pickTarget(call);
    const { method } = call;
    const started = performance.now();
    try {
      const bytes = encodeMessage(method.request, call.request);
      const options = { metadata: new Map(Object.entries(call.metadata)), timeoutMs: call.timeoutMs };
      const reply = await this.client.unary(target.url, `/${method.service}/${method.name}`, bytes, options);
      return {
        response: decodeMessage(method.response, reply.message),
        metadata: metadataRecord(reply.headers, reply.trailers),
        endpoint: target.display,
        elapsedMs: performance.now() - started,
      };
    } catch (error) {
      throw new CallFailed(RpcError.from(error), performance.now() - started, target.display);
    }
  }

  async stream(call: StreamCall): Promise<StreamResult> {
    const target = await pickTarget(call);
    const { method } = call;
    const started = performance.now();
    const stream = this.client.stream(target.url, `/${method.service}/${method.name}`, {
      metadata: new Map(Object.entries(call.metadata)),
      timeoutMs: Number.isFinite(call.timeoutMs) ? call.timeoutMs : undefined,
    });
    // Requests go out as they are read (stdin may be typed line by line): a bad line cancels the call.
    let requestError: unknown;
    const sending = (async () => {
      try {
        for await (const request of call.requests) await stream.send(encodeMessage(method.request, request));
        stream.end();
      } catch (error) {
        requestError ??= error;
        stream.cancel(error instanceof Error ? error.message : String(error));
      }
    })();
    let responses = 0;
    try {
      for await (const bytes of stream) {
        responses++;
        call.onResponse(decodeMessage(method.response, bytes));
      }
    } catch (error) {
      await sending;
      if (requestError !== undefined) throw requestError;
      throw new CallFailed(RpcError.from(error), performance.now() - started, target.display);
    }
    await sending;
    if (requestError !== undefined) throw requestError;
    const status = await stream.status;
    if (status.error !== undefined) throw new CallFailed(status.error, performance.now() - started, target.display);
    return { metadata: metadataRecord(status.headers, status.trailers), endpoint: target.display, elapsedMs: performance.now() - started, responses };
  }
}

/** The address to call: the one given, or a gRPC provider of the service from the registry. */
async function pickTarget(call: CallBase): Promise<{ url: string; display: string }> {
  const { target } = call;
  if (target.kind === 'address') return grpcUrl(target.addresses[0]!, target.tls === true);
  const provider = await grpcProvider(target.registry, call.group, call.method.service);
  return grpcUrl(provider, provider.protocol === 'grpcs');
}

/** Headers then trailers as one record (trailers win: they carry the outcome). */
function metadataRecord(headers: Metadata, trailers: Metadata): Record<string, string> {
  return { ...Object.fromEntries(headers), ...Object.fromEntries(trailers) };
}

