import type { RpcError, ServiceDefinition } from '@trellis/core';
import type { MethodInfo } from '../proto/descriptors.js';
import type { RegistryClient } from '../registry/registry-client.js';
import type { HostPort } from '../health/checks.js';

/** Where a call goes: fixed addresses, or the providers a registry lists for the service. */
export type CallTarget =
  | { readonly kind: 'address'; readonly addresses: readonly HostPort[] }
  | { readonly kind: 'registry'; readonly registry: RegistryClient };

export interface UnaryCall {
  readonly definition: ServiceDefinition;
  readonly method: MethodInfo;
  readonly group: string;
  /** Keys as in the .proto, ready for the codec (json-mapping's fromJson). */
  readonly request: Record<string, unknown>;
  readonly metadata: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly target: CallTarget;
}

export interface CallResult {
  /** Decoded with keys as in the .proto (json-mapping's toJson renames them). */
  readonly response: unknown;
  readonly metadata: Readonly<Record<string, string>>;
  /** `host:port` of the provider that answered. */
  readonly endpoint: string;
  readonly elapsedMs: number;
}

/** A call that reached an RPC status: the error as the caller's stub would see it. */
export class CallFailed extends Error {
  constructor(readonly error: RpcError, readonly elapsedMs: number) {
    super(error.message);
  }
}

/**
 * How `trellis call` talks to providers, chosen with `--protocol`. The native protocol (`trellis`,
 * through RpcClient) is the one there is; gRPC registers here as `grpc` (its unary calls through
 * this interface, its streams through a streaming method added beside `unary`).
 */
export interface CallTransport {
  readonly protocol: string;
  unary(call: UnaryCall): Promise<CallResult>;
}
