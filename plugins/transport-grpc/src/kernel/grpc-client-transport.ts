import { Code, RpcError, type Metadata } from '@trellis/core';
import type {
  ClientStream, ClientTransport, ConnectionEvent, ConnectionState, Disposable, Endpoint, InboundResponse, OutboundRequest, OutboundStream,
} from '@trellis/core/spi';
import { Type } from '@trellis/core/toolkit';
import { GrpcClient, type GrpcClientOptions } from '../client/grpc-client.js';
import { GRPC_CLIENT_SHARED_PROPERTIES, checkGrpcClientOptions } from '../client/client-options.js';
import type { GrpcResponse } from '../client/client-call.js';
import type { GrpcTarget } from '../client/target.js';
import { isEncoding, type Encoding } from '../wire/compression.js';
import { ENCODING_METADATA } from './grpc-server-transport.js';

export interface GrpcClientTransportOptions extends Omit<GrpcClientOptions, 'onStateChange'> {
  /**
   * Whether an endpoint is called over TLS (`grpcs`). Default: endpoints whose `protocol` is
   * `grpcs` or whose instance document says `protocols.grpc.tls`, or every endpoint when `tls` options are given and this is left out.
   */
  readonly useTls?: (endpoint: Endpoint) => boolean;
}

// onStateChange is the transport's own (it turns into connection events), so it is not an option here.
const TRANSPORT_OPTIONS_SCHEMA = Type.Object({
  ...GRPC_CLIENT_SHARED_PROPERTIES,
  useTls: Type.Optional(Type.Function([Type.Unknown()], Type.Boolean(), { description: 'a function (endpoint) => boolean' })),
}, { additionalProperties: false });

/**
 * The kernel's ClientTransport over the gRPC client engine: an `RpcClient` built with it calls any
 * gRPC server (grpc-js, grpc-go, C-core…) through the whole governance pipeline — discovery,
 * routers, balancers, retry, breaker, health pings (HTTP/2 PING), tracing and metrics interceptors.
 * Unary calls and the three stream kinds (`openStream`, over one HTTP/2 stream each, with HTTP/2's
 * flow control). A unary call's response metadata is the response headers merged with the trailers
 * (trailers win); a stream keeps them apart (`headers`, `trailers`).
 */
export class GrpcClientTransport implements ClientTransport {
  readonly client: GrpcClient;
  private readonly listeners = new Set<(event: ConnectionEvent) => void>();
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly useTls: (endpoint: Endpoint) => boolean;

  constructor(options: GrpcClientTransportOptions = {}) {
    checkGrpcClientOptions(options, 'GrpcClientTransport', TRANSPORT_OPTIONS_SCHEMA);
    const { useTls, ...clientOptions } = options;
    this.useTls = useTls ?? (options.tls ? () => true : (endpoint) => endpoint.protocol === 'grpcs' || endpoint.protocols?.grpc?.tls === true);
    this.client = new GrpcClient({
      ...clientOptions,
      onStateChange: (target, state, reason) => {
        const endpoint = this.endpoints.get(`${target.host}:${target.port}`);
        if (endpoint === undefined) return;
        for (const listener of this.listeners) listener({ endpoint, state, reason });
      },
    });
  }

  /**
   * A unary call. `grpc-encoding` in its metadata (ENCODING_METADATA: `gzip`, `deflate`) compresses
   * the request instead of being sent as metadata; the response metadata says `grpc-encoding` when
   * the response message arrived compressed.
   */
  call(endpoint: Endpoint, request: OutboundRequest): Promise<InboundResponse> {
    let target: GrpcTarget;
    let outgoing: Outgoing;
    try {
      target = this.target(endpoint);
      outgoing = outgoingMetadata(request.metadata);
    } catch (error) {
      return Promise.reject(RpcError.from(error));
    }
    return this.client.unary(target, `/${request.service}/${request.method}`, request.body, {
      metadata: outgoing.metadata,
      compression: outgoing.compression,
      timeoutMs: request.timeoutMs,
      signal: request.signal,
      previousAttempts: request.attempt - 1,
    }).then((response) => ({ body: response.message, metadata: responseMetadata(response) }));
  }

  /**
   * One stream as the kernel's stream SPI wants it (packages/core/src/transport-stream.ts): set-up
   * is the server's header block (a Trailers-Only error rejects `headers`), leaving the response
   * loop early resets the stream (CANCEL), and `send()` follows HTTP/2 flow control.
   */
  openStream(endpoint: Endpoint, stream: OutboundStream): ClientStream {
    let target: GrpcTarget;
    let outgoing: Outgoing;
    try {
      target = this.target(endpoint);
      outgoing = outgoingMetadata(stream.metadata);
    } catch (error) {
      return failedStream(RpcError.from(error));
    }
    const call = this.client.stream(target, `/${stream.service}/${stream.method}`, {
      metadata: outgoing.metadata,
      compression: outgoing.compression,
      timeoutMs: stream.timeoutMs,
      signal: stream.signal,
      previousAttempts: stream.attempt - 1,
    });
    const headers = call.accepted;
    const trailers = call.status.then((status) => {
      if (status.error !== undefined) throw status.error;
      return status.trailers;
    });
    headers.catch(noop);
    trailers.catch(noop);
    const responses: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => {
        const inner = call[Symbol.asyncIterator]();
        return {
          next: () => inner.next(),
          return: () => {
            call.cancel('the caller stopped reading the stream');
            return inner.return?.() ?? Promise.resolve({ done: true, value: undefined });
          },
        };
      },
    };
    let ended = false;
    return {
      headers,
      responses,
      trailers,
      send: (body) => {
        if (ended) return Promise.reject(new RpcError(Code.FAILED_PRECONDITION, 'send() after end() on a stream'));
        return call.send(body);
      },
      end: () => {
        if (ended) return;
        ended = true;
        call.end();
      },
      cancel: (reason) => call.cancel(reason),
    };
  }

  ping(endpoint: Endpoint, timeoutMs: number): Promise<number> {
    try {
      return this.client.channel(this.target(endpoint)).ping(timeoutMs);
    } catch (error) {
      return Promise.reject(RpcError.from(error));
    }
  }

  state(endpoint: Endpoint): ConnectionState {
    try {
      return this.client.channel(this.target(endpoint)).state;
    } catch {
      return 'closed';
    }
  }

  onStateChange(listener: (event: ConnectionEvent) => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  retain(endpoints: readonly Endpoint[]): void {
    this.client.retain(endpoints.map((endpoint) => this.target(endpoint)));
  }

  async close(): Promise<void> {
    this.client.close();
  }

  private target(endpoint: Endpoint): GrpcTarget {
    if (!(endpoint.port > 0)) throw new RpcError(Code.UNAVAILABLE, `endpoint ${endpoint.id} has no port`, { mayHaveRun: false });
    this.endpoints.set(`${endpoint.host}:${endpoint.port}`, endpoint);
    return { host: endpoint.host, port: endpoint.port, tls: this.useTls(endpoint) };
  }
}

const noop = (): void => undefined;

/** A stream that could not be opened (`mayHaveRun` as the error says). */
function failedStream(error: RpcError): ClientStream {
  const rejected = Promise.reject(error);
  rejected.catch(noop);
  return {
    headers: rejected,
    trailers: rejected,
    responses: { [Symbol.asyncIterator]: () => ({ next: () => rejected }) },
    send: () => rejected,
    end: noop,
    cancel: noop,
  };
}

interface Outgoing {
  readonly metadata: Metadata;
  readonly compression: Encoding | undefined;
}

/** A call's metadata without ENCODING_METADATA, which becomes the call's compression. */
function outgoingMetadata(metadata: Metadata): Outgoing {
  const encoding = metadata.get(ENCODING_METADATA);
  if (encoding === undefined) return { metadata, compression: undefined };
  if (!isEncoding(encoding)) {
    throw new RpcError(Code.INVALID_ARGUMENT, `metadata "${ENCODING_METADATA}" is ${JSON.stringify(encoding)}; expected gzip, deflate or identity`, { mayHaveRun: false });
  }
  const rest = new Map(metadata);
  rest.delete(ENCODING_METADATA);
  return { metadata: rest, compression: encoding };
}

/** A unary response's metadata: headers and trailers in one map (trailers win), and the message's encoding if it arrived compressed. */
function responseMetadata(response: GrpcResponse): ReadonlyMap<string, string> {
  const metadata = merge(response.headers, response.trailers);
  if (!response.compressed) return metadata;
  const out = new Map(metadata);
  out.set(ENCODING_METADATA, response.encoding);
  return out;
}

function merge(headers: Metadata, trailers: Metadata): Map<string, string> {
  if (trailers.size === 0) return headers;
  if (headers.size === 0) return trailers;
  const out = new Map(headers);
  for (const [key, value] of trailers) out.set(key, value);
  return out;
}
