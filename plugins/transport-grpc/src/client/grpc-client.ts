import type { SecureClientSessionOptions } from 'node:http2';
import { Code, invalidOption, RpcError, type Metadata } from '@trellis/core';
import { DeadlineTimer, type ConnectionState } from '@trellis/core/spi';
import { GrpcChannel, type ChannelOptions } from './channel.js';
import { ClientCall, type CallLimits, type GrpcCallOptions, type GrpcResponse, type GrpcStatus } from './client-call.js';
import { parseGrpcTarget, targetKey, type GrpcTarget } from './target.js';
import { checkGrpcClientOptions } from './client-options.js';

export interface GrpcClientOptions {
  /** TLS options for `grpcs://` targets (ca, cert, key, servername…). */
  readonly tls?: SecureClientSessionOptions;
  /** Largest response message accepted (default 4 MiB); larger → RESOURCE_EXHAUSTED. */
  readonly maxReceiveMessageSize?: number;
  /** Largest request message sent (default Infinity). */
  readonly maxSendMessageSize?: number;
  /** Buffered, unread response bytes per streaming call above which its stream is paused (default 256 KiB). */
  readonly receiveHighWaterBytes?: number;
  readonly connectTimeoutMs?: number;
  readonly keepaliveIntervalMs?: number;
  readonly keepaliveTimeoutMs?: number;
  readonly connectionsPerTarget?: number;
  readonly backoff?: ChannelOptions['backoff'];
  /** `user-agent` sent with every call. */
  readonly userAgent?: string;
  readonly onStateChange?: (target: GrpcTarget, state: ConnectionState, reason: string) => void;
}

/** Where to call: `host:port`, `grpc://…`, `grpcs://…` or a parsed target. */
export type TargetLike = string | GrpcTarget;

/**
 * A streaming call from the client side: iterate it for the response messages (the loop throws an
 * RpcError when the call ends with a status other than OK); `send` / `end` write request messages
 * (or pass `requests` to `stream()`); `cancel` resets the stream.
 */
export interface GrpcClientStream extends AsyncIterable<Uint8Array> {
  send(message: Uint8Array, options?: { compress?: boolean }): Promise<void>;
  /** Half-close. */
  end(): void;
  cancel(reason?: string): void;
  readonly headers: Promise<Metadata>;
  /**
   * The response headers once the server accepted the call (a header block without a status);
   * rejects with the call's error when it ended before that (refused, an immediate error status).
   */
  readonly accepted: Promise<Metadata>;
  /** Settles when the call ends, whatever the outcome (never rejects). */
  readonly status: Promise<GrpcStatus & { error?: RpcError }>;
  /** Whether the response message last read arrived compressed. */
  readonly lastMessageCompressed: boolean;
}

export interface GrpcStreamOptions extends GrpcCallOptions {
  /** Request messages to send, then half-close; a failing iterable cancels the call. */
  readonly requests?: AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
}

const VERSION = '0.1.0';

/**
 * The gRPC client engine: calls any gRPC server (grpc-js, grpc-go, C-core, Trellis) at the bytes
 * level — unary and the three stream kinds, deadlines, metadata, cancellation, compression — over
 * reused HTTP/2 connections per target. Errors are `RpcError`s with gRPC's code and `mayHaveRun`.
 */
export class GrpcClient {
  private readonly channels = new Map<string, GrpcChannel>();
  private readonly byAddress = new Map<string, GrpcChannel>();
  private readonly limits: CallLimits;
  private readonly channelOptions: ChannelOptions;
  private readonly timer = new DeadlineTimer(() => performance.now());
  private closed = false;

  constructor(private readonly options: GrpcClientOptions = {}) {
    checkGrpcClientOptions(options);
    const positive = (name: string, value: number | undefined, fallback: number) => {
      if (value === undefined) return fallback;
      if (!(typeof value === 'number' && value > 0)) throw invalidOption(name, value, 'a positive number');
      return value;
    };
    this.limits = {
      maxReceiveMessageSize: positive('maxReceiveMessageSize', options.maxReceiveMessageSize, 4 * 1024 * 1024),
      maxSendMessageSize: positive('maxSendMessageSize', options.maxSendMessageSize, Infinity),
      receiveHighWaterBytes: positive('receiveHighWaterBytes', options.receiveHighWaterBytes, 256 * 1024),
      userAgent: options.userAgent ?? `trellis-grpc-node/${VERSION}`,
      addDeadline: (entry, deadline) => this.timer.add(entry, deadline),
      removeDeadline: (entry) => this.timer.remove(entry),
    };
    const connections = options.connectionsPerTarget ?? 1;
    if (!(Number.isInteger(connections) && connections >= 1)) throw invalidOption('connectionsPerTarget', connections, 'an integer ≥ 1');
    this.channelOptions = {
      tls: options.tls,
      connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs, 5000),
      keepaliveIntervalMs: options.keepaliveIntervalMs,
      keepaliveTimeoutMs: options.keepaliveTimeoutMs,
      connectionsPerTarget: connections,
      backoff: options.backoff,
      onStateChange: options.onStateChange,
    };
  }

  /** The channel (connections) to a target, created on first use. */
  channel(target: TargetLike): GrpcChannel {
    // Calls name their target as a string: that string is the hot-path key, parsed once.
    if (typeof target === 'string') {
      const known = this.byAddress.get(target);
      if (known !== undefined && !known.isClosed) return known;
    }
    const parsed = typeof target === 'string' ? parseGrpcTarget(target) : target;
    const key = targetKey(parsed);
    let channel = this.channels.get(key);
    if (channel === undefined) {
      if (this.closed) throw new RpcError(Code.UNAVAILABLE, 'the gRPC client is closed', { mayHaveRun: false });
      channel = new GrpcChannel(parsed, this.channelOptions);
      this.channels.set(key, channel);
    }
    if (typeof target === 'string') this.byAddress.set(target, channel);
    return channel;
  }

  /** One request, one response. */
  unary(target: TargetLike, path: string, request: Uint8Array, options: GrpcCallOptions = {}): Promise<GrpcResponse> {
    return this.single(target, path, options, (call) => call.sendLast(request));
  }

  /** One request, a stream of responses. */
  serverStream(target: TargetLike, path: string, request: Uint8Array, options: GrpcCallOptions = {}): GrpcClientStream {
    return this.open(target, path, options, true, (call) => call.sendLast(request));
  }

  /** A stream of requests, one response. */
  clientStream(target: TargetLike, path: string, requests: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options: GrpcCallOptions = {}): Promise<GrpcResponse> {
    return this.single(target, path, options, (call) => void pump(call, requests));
  }

  /** A call with one response (unary, client stream): `send` writes the request side once started. */
  private single(target: TargetLike, path: string, options: GrpcCallOptions, send: (call: ClientCall) => void): Promise<GrpcResponse> {
    let channel: GrpcChannel;
    try {
      channel = this.channel(target);
    } catch (error) {
      return Promise.reject(error);
    }
    const call = new ClientCall(channel, path, options, this.limits, false);
    return new Promise((resolve, reject) => {
      call.start((status, error) => {
        if (error !== undefined) return reject(error);
        const { message, compressed, encoding } = call.response;
        resolve({ message: message!, compressed, encoding, headers: status.headers, trailers: status.trailers });
      });
      send(call);
    });
  }

  /**
   * A bidirectional stream (also usable for any kind): `requests` are sent as they come; or leave
   * it out and use `send` / `end` on the returned stream.
   */
  stream(target: TargetLike, path: string, options: GrpcStreamOptions = {}): GrpcClientStream {
    return this.open(target, path, options, true, (call) => {
      if (options.requests !== undefined) void pump(call, options.requests);
    });
  }

  /** Closes every connection; calls in progress fail with UNAVAILABLE. */
  close(): void {
    this.closed = true;
    for (const channel of this.channels.values()) channel.close();
    this.channels.clear();
    this.byAddress.clear();
  }

  /** Closes the channels to targets not in the list (a discovery update). */
  retain(keep: readonly TargetLike[]): void {
    const keys = new Set(keep.map((t) => targetKey(typeof t === 'string' ? parseGrpcTarget(t) : t)));
    for (const [key, channel] of this.channels) {
      if (!keys.has(key)) {
        channel.close();
        this.channels.delete(key);
      }
    }
  }

  private open(target: TargetLike, path: string, options: GrpcCallOptions, streaming: boolean, begin: (call: ClientCall) => void): GrpcClientStream {
    let resolveStatus!: (status: GrpcStatus & { error?: RpcError }) => void;
    const status = new Promise<GrpcStatus & { error?: RpcError }>((resolve) => (resolveStatus = resolve));
    let channel: GrpcChannel;
    try {
      channel = this.channel(target);
    } catch (error) {
      const rpc = RpcError.from(error);
      resolveStatus({ code: rpc.code, message: rpc.message, headers: new Map(), trailers: new Map(), error: rpc });
      return failedStream(rpc, status);
    }
    const call = new ClientCall(channel, path, options, this.limits, streaming);
    call.start((s, error) => resolveStatus(error === undefined ? s : { ...s, error }));
    begin(call);
    return {
      [Symbol.asyncIterator]: () => call.messages,
      send: (message, sendOptions) => call.send(message, sendOptions?.compress !== false),
      end: () => call.end(),
      cancel: (reason) => call.cancel(new RpcError(Code.CANCELLED, reason ?? 'call cancelled by the caller')),
      headers: call.headers(),
      get accepted() {
        return call.acceptedHeaders();
      },
      status,
      get lastMessageCompressed() {
        return call.lastMessageCompressed;
      },
    };
  }
}

/** Sends every message of `requests` (waiting on flow control), then half-closes. */
async function pump(call: ClientCall, requests: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> {
  try {
    for await (const message of requests) await call.send(message);
    call.end();
  } catch (error) {
    call.cancel(error instanceof RpcError ? error : new RpcError(Code.CANCELLED, `the request stream failed: ${(error as Error).message}`));
  }
}

function failedStream(error: RpcError, status: GrpcClientStream['status']): GrpcClientStream {
  return {
    [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(error) }),
    send: () => Promise.reject(error),
    end: () => undefined,
    cancel: () => undefined,
    headers: Promise.resolve(new Map()),
    get accepted() {
      return Promise.reject(error);
    },
    status,
    lastMessageCompressed: false,
  };
}
