import { NativeReflectionChannel } from '@trellis/reflection';
import type { GrpcClient } from '@trellis/transport-grpc';
import type { HostPort } from '../health/checks.js';
import { grpcUrl } from '../target.js';
import type { ReflectionTarget } from './reflection-source.js';

export interface ReflectionCallOptions {
  readonly metadata: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

/** Reflection over gRPC on the command's GrpcClient (shared with the call: one connection). */
export function grpcReflection(client: () => Promise<GrpcClient>, address: HostPort, tls: boolean, options: ReflectionCallOptions): ReflectionTarget {
  const { url, display } = grpcUrl(address, tls);
  return {
    protocol: 'grpc',
    display,
    tls,
    async connect() {
      const { grpcReflectionStreams } = await import('@trellis/transport-grpc');
      return { open: grpcReflectionStreams(await client(), url, { metadata: new Map(Object.entries(options.metadata)), timeoutMs: options.timeoutMs }) };
    },
  };
}

/** Reflection over the native protocol, from a Trellis server that serves it (`addReflection` of @trellis/reflection). */
export function nativeReflection(address: HostPort, options: ReflectionCallOptions): ReflectionTarget {
  return {
    protocol: 'trellis',
    display: grpcUrl(address, false).display,
    async connect() {
      const channel = new NativeReflectionChannel(address, { metadata: options.metadata, timeoutMs: options.timeoutMs });
      return { open: channel.open, close: () => channel.close() };
    },
  };
}
