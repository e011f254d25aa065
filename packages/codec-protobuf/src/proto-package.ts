import { ErrorCodes, TrellisError, type MessageCodec } from '@trellis/core';
import * as protobuf from 'protobufjs';
import { ProtoErrorCodes } from './errors.js';
import { loadRoot, loadRootSync } from './load-root.js';
import { resolveLoadOptions, type ProtoLoadOptions } from './load-options.js';
import { CodecFactory } from './message-codec.js';
import { buildServiceDefinition, type ProtoServiceDefinition } from './service-definition.js';

/** The services and messages of a set of loaded .proto files. */
export interface ProtoPackage {
  /** Every service in the loaded files and their imports, in file order. */
  readonly services: readonly ProtoServiceDefinition[];
  /**
   * The service with this fully qualified name (`helloworld.Greeter`); throws a TrellisError
   * ERR_SERVICE_INVALID that lists the services there are.
   */
  service(fullName: string): ProtoServiceDefinition;
  /**
   * The codec of the message with this fully qualified name (`helloworld.HelloRequest`); throws
   * ERR_PROTO_MESSAGE_UNKNOWN. `T` is not checked: pass the type `trellis-proto-gen` generated.
   */
  message<T = unknown>(fullName: string): MessageCodec<T>;
  /** The protobufjs root the codecs were built from, for tools that need reflection. */
  readonly root: protobuf.Root;
  /**
   * The .proto files loaded, as given, and the directories they were resolved in: what gRPC server
   * reflection needs, so `standardServices({ reflection: protoPackage })` (@trellis/transport-grpc)
   * describes the services without a second list of files.
   */
  readonly files: readonly string[];
  readonly includeDirs: readonly string[];
}

/** Loads .proto files synchronously (start-up code). Throws ERR_PROTO_LOAD_FAILED. */
export function loadProto(files: string | readonly string[], options?: ProtoLoadOptions): ProtoPackage {
  const list = typeof files === 'string' ? [files] : files;
  const resolved = resolveLoadOptions(options);
  return createProtoPackage(loadRootSync(list, resolved), list, resolved.parse.includeDirs ?? [], new CodecFactory(resolved.conversion));
}

/** `loadProto` without blocking the event loop on file reads. */
export async function loadProtoAsync(files: string | readonly string[], options?: ProtoLoadOptions): Promise<ProtoPackage> {
  const list = typeof files === 'string' ? [files] : files;
  const resolved = resolveLoadOptions(options);
  return createProtoPackage(await loadRoot(list, resolved), list, resolved.parse.includeDirs ?? [], new CodecFactory(resolved.conversion));
}

function collectServices(namespace: protobuf.NamespaceBase, into: protobuf.Service[]): protobuf.Service[] {
  for (const nested of namespace.nestedArray) {
    if (nested instanceof protobuf.Service) into.push(nested);
    else if (nested instanceof protobuf.Namespace && !(nested instanceof protobuf.Type)) collectServices(nested, into);
  }
  return into;
}

/**
 * Exact lookup of `a.b.C` or `.a.b.C`: Root#lookup also searches nested namespaces for a short name,
 * and a name that resolves by luck in one set of files and not in another is a trap.
 */
function lookup(root: protobuf.Root, fullName: string): protobuf.ReflectionObject | null {
  let current: protobuf.ReflectionObject | null = root;
  for (const part of (fullName.startsWith('.') ? fullName.slice(1) : fullName).split('.')) {
    if (!(current instanceof protobuf.Namespace)) return null;
    current = current.get(part);
  }
  return current;
}

function createProtoPackage(root: protobuf.Root, files: readonly string[], includeDirs: readonly string[], codecs: CodecFactory): ProtoPackage {
  // Built eagerly: a broken service (e.g. clashing method names) fails at load, not at first call.
  const services = collectServices(root, []).map((service) => buildServiceDefinition(service, codecs));
  const byName = new Map(services.map((service) => [service.name, service]));
  return {
    root,
    files: Object.freeze([...files]),
    includeDirs: Object.freeze([...includeDirs]),
    services: Object.freeze(services),
    service(fullName) {
      const found = byName.get(fullName.startsWith('.') ? fullName.slice(1) : fullName);
      if (found) return found;
      const available = services.length ? services.map((service) => service.name).join(', ') : 'none';
      throw new TrellisError(
        ErrorCodes.SERVICE_INVALID,
        `service "${fullName}" is not defined in ${files.join(', ')}; available services: ${available}. Use the fully qualified name (package.Service).`,
      );
    },
    message<T>(fullName: string): MessageCodec<T> {
      const found = lookup(root, fullName);
      if (found instanceof protobuf.Type) return codecs.codec(found) as MessageCodec<T>;
      throw new TrellisError(
        ProtoErrorCodes.MESSAGE_UNKNOWN,
        `message "${fullName}" is not defined in ${files.join(', ')}. Use the fully qualified name (package.Message).`,
      );
    },
  };
}
