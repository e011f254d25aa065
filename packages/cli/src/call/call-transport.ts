import type { RpcError } from '@trellis/core';
import type { GrpcClient } from '@trellis/transport-grpc';
import type { Descriptors, MethodInfo } from '../proto/descriptors.js';
import type { RegistryClient } from '../registry/registry-client.js';
import type { HostPort } from '../health/checks.js';

/**
 * Where a call goes: fixed addresses (`tls` for grpcs://), or the providers a registry lists for
 * the service.
 */
export type CallTarget =
  | { readonly kind: 'address'; readonly addresses: readonly HostPort[]; readonly tls?: boolean }
  | { readonly kind: 'registry'; readonly registry: RegistryClient };

/** What every call carries, whatever its kind. */
export interface CallBase {
  readonly descriptors: Descriptors;
  readonly method: MethodInfo;
  readonly group: string;
  readonly metadata: Readonly<Record<string, string>>;
  /** The call's deadline; Infinity for none (streams without --timeout). */
  readonly timeoutMs: number;
  readonly target: CallTarget;
}

export interface UnaryCall extends CallBase {
  /** Keys as in the .proto, ready for the codec (json-mapping's fromJson). */
  readonly request: Record<string, unknown>;
}

/**
 * A streaming call (server-, client- or bidi-streaming): `requests` are sent as they come (one for
 * server streams); each response is handed to `onResponse` as it arrives (decoded, keys as in the
 * .proto).
 */
export interface StreamCall extends CallBase {
  readonly requests: AsyncIterable<Record<string, unknown>>;
  onResponse(response: unknown): void;
}

export interface CallResult {
  /** Decoded with keys as in the .proto (json-mapping's toJson renames them). */
  readonly response: unknown;
  readonly metadata: Readonly<Record<string, string>>;
  /** `host:port` of the provider that answered. */
  readonly endpoint: string;
  readonly elapsedMs: number;
}

export interface StreamResult {
  readonly metadata: Readonly<Record<string, string>>;
  readonly endpoint: string;
  readonly elapsedMs: number;
  readonly responses: number;
}

/** A call that reached an RPC status: the error as the caller's stub would see it, and where. */
export class CallFailed extends Error {
  constructor(readonly error: RpcError, readonly elapsedMs: number, readonly endpoint?: string) {
    super(error.message);
  }
}

/**
 * How `trellis call` talks to providers, chosen with `--protocol` (or the target's scheme, or the
 * providers' instance documents): the native protocol (`trellis`, through RpcClient) and gRPC
 * (`grpc`, through @trellis/transport-grpc's GrpcClient), each with unary calls and the three
 * stream kinds.
 */
export interface CallTransport {
  readonly protocol: string;
  unary(call: UnaryCall): Promise<CallResult>;
  stream(call: StreamCall): Promise<StreamResult>;
}

/** What a transport may share with the rest of the command: the gRPC client (TLS settings, reflection on the same connection). */
export interface TransportDeps {
  grpcClient(): Promise<GrpcClient>;
  /** Why a dial to `host:port` failed, when the gRPC client reported it. */
  dialFailure(display: string): string | undefined;
}
