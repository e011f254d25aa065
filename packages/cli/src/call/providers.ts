import type { InstanceInfo } from '@trellis/core/spi';
import { notFound } from '../cli-error.js';
import type { RegistryClient } from '../registry/registry-client.js';
import { GRPC_PROTOCOLS } from './protocols.js';

/**
 * One provider of a service whose instance document says it serves gRPC (`grpc`, or `grpcs` for
 * TLS), picked at random like a consumer's first call would; NOT_FOUND naming the protocols the
 * providers do serve when none is gRPC.
 */
export async function grpcProvider(registry: RegistryClient, group: string, name: string): Promise<InstanceInfo> {
  const service = await registry.service({ group, name });
  const providers = service.providers.map(asGrpcProvider).filter((p): p is InstanceInfo => p !== undefined);
  if (providers.length === 0) {
    const protocols = [...new Set(service.providers.map((p) => p.protocol))];
    throw notFound(
      `no provider of ${service.name} (group "${service.group}") in ${registry.address.display} serves gRPC` + (protocols.length > 0 ? `: they serve ${protocols.join(', ')}` : ''),
      protocols.length > 0 ? `call it over ${protocols[0]}: --protocol ${protocols[0]}` : '`trellis ls` shows what is registered',
    );
  }
  return pickOne(providers);
}

/**
 * The provider whose reflection describes a service: a native one when any is listed (a call goes
 * over the native protocol then, see call.ts's chooseProtocol), else a gRPC one; NOT_FOUND when the
 * service has no provider.
 */
export async function reflectionProvider(registry: RegistryClient, group: string, name: string): Promise<InstanceInfo> {
  const service = await registry.service({ group, name });
  const native = service.providers.filter((p) => !GRPC_PROTOCOLS.has(p.protocol));
  if (native.length > 0) return pickOne(native);
  if (service.providers.length === 0) {
    throw notFound(`service "${service.name}" (group "${service.group}") has no provider in ${registry.address.display} to ask for its descriptors`, 'pass its .proto with --proto file.proto; `trellis ls` shows what is registered');
  }
  return pickOne(service.providers);
}

/**
 * A provider as its gRPC listener: one whose instance document says `grpc`/`grpcs`, or one that lists
 * a `grpc` port beside its native one (`protocols`, a server with several listeners); undefined when
 * it serves no gRPC.
 */
function asGrpcProvider(p: InstanceInfo): InstanceInfo | undefined {
  if (GRPC_PROTOCOLS.has(p.protocol)) return p;
  const grpc = p.protocols?.grpc;
  return grpc === undefined ? undefined : { ...p, port: grpc.port, protocol: grpc.tls ? 'grpcs' : 'grpc' };
}

/** What a provider serves, for people: `trellis, grpc` when its document lists several protocols. */
export function protocolNames(p: InstanceInfo): string {
  return p.protocols === undefined ? p.protocol : Object.keys(p.protocols).join(', ');
}

function pickOne(providers: readonly InstanceInfo[]): InstanceInfo {
  return providers[Math.floor(Math.random() * providers.length)]!;
}
