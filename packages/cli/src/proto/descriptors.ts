import { localName } from '@trellis/codec-protobuf';
import type { MethodDefinition, ServiceDefinition } from '@trellis/core';
import * as protobuf from 'protobufjs';
import { notFound } from '../cli-error.js';
import { closeNames, didYouMean } from '../suggest.js';
import { decodeMessage, encodeMessage } from './message-bytes.js';

export type MethodKind = 'unary' | 'server-streaming' | 'client-streaming' | 'bidi-streaming';

export interface MethodInfo {
  readonly service: string;
  readonly name: string;
  readonly kind: MethodKind;
  readonly requestType: string;
  readonly responseType: string;
  /** `IDEMPOTENT`, `NO_SIDE_EFFECTS` or `IDEMPOTENCY_UNKNOWN`, as the .proto declares it. */
  readonly idempotency: string;
  readonly request: protobuf.Type;
  readonly response: protobuf.Type;
}

/**
 * What a descriptor source loaded: services, methods and types, looked up by full name, from a
 * resolved protobufjs root (.proto files loaded by codec-protobuf, or server reflection's
 * descriptors).
 */
export class Descriptors {
  constructor(readonly proto: { readonly root: protobuf.Root }, readonly origin: string) {}

  get serviceNames(): string[] {
    return this.services().map((s) => s.fullName.slice(1));
  }

  /** protobufjs services in file order (the streaming ones included, unlike the kernel's definitions). */
  services(): protobuf.Service[] {
    const out: protobuf.Service[] = [];
    const walk = (namespace: protobuf.NamespaceBase): void => {
      for (const nested of namespace.nestedArray) {
        if (nested instanceof protobuf.Service) out.push(nested);
        else if (nested instanceof protobuf.Namespace && !(nested instanceof protobuf.Type)) walk(nested);
      }
    };
    walk(this.proto.root);
    return out;
  }

  service(name: string): protobuf.Service {
    const found = this.lookup(name);
    if (found instanceof protobuf.Service) return found;
    const names = this.serviceNames;
    const close = closeNames(name, names);
    const hint = close.length > 0 ? didYouMean(close) : `the services there: ${names.join(', ') || 'none'}`;
    throw notFound(`service "${name}" is not defined in ${this.origin}`, hint, { suggestions: close, services: names });
  }

  /**
   * The kernel's definition of a service, for an RpcClient over the native protocol: every method
   * with its kind, its codecs those of message-bytes.ts (the same conversion as the gRPC path), so
   * descriptors from reflection serve native calls as .proto files do.
   */
  definition(name: string): ServiceDefinition {
    const service = this.service(name);
    const methods: Record<string, MethodDefinition> = {};
    for (const method of service.methodsArray) {
      const info = methodInfo(service, method);
      methods[info.name] = {
        name: info.name,
        localName: localName(info.name),
        kind: info.kind,
        requestCodec: { encode: (value) => encodeMessage(info.request, value as Record<string, unknown>), decode: (bytes) => decodeMessage(info.request, bytes) },
        responseCodec: { encode: (value) => encodeMessage(info.response, value as Record<string, unknown>), decode: (bytes) => decodeMessage(info.response, bytes) },
        idempotent: info.idempotency !== 'IDEMPOTENCY_UNKNOWN',
        options: {},
      };
    }
    return { name: service.fullName.slice(1), methods };
  }

  method(serviceName: string, methodName: string): MethodInfo {
    const service = this.service(serviceName);
    const method = service.methods[methodName] ?? service.methodsArray.find((m) => m.name.toLowerCase() === methodName.toLowerCase());
    if (method === undefined) {
      const names = service.methodsArray.map((m) => m.name);
      const close = closeNames(methodName, names);
      throw notFound(`${serviceName} has no method "${methodName}"`, close.length ? didYouMean(close) : `its methods: ${names.join(', ')}`, {
        suggestions: close,
        methods: names,
      });
    }
    return methodInfo(service, method);
  }

  /** A service, method (`pkg.Svc.Method` or `pkg.Svc/Method`), message or enum by full name. */
  lookup(name: string): protobuf.ReflectionObject | null {
    let current: protobuf.ReflectionObject | null = this.proto.root;
    const path = name.replace(/^\./, '').replace('/', '.');
    for (const part of path.split('.')) {
      if (current instanceof protobuf.Service) current = current.methods[part] ?? null;
      else if (current instanceof protobuf.Namespace) current = current.get(part);
      else return null;
    }
    return current;
  }

  /** Every fully qualified name a symbol could be looked up by (for suggestions). */
  symbols(): string[] {
    const out: string[] = [];
    const walk = (namespace: protobuf.NamespaceBase): void => {
      for (const nested of namespace.nestedArray) {
        if (nested instanceof protobuf.Service) {
          out.push(nested.fullName.slice(1));
          for (const m of nested.methodsArray) out.push(`${nested.fullName.slice(1)}.${m.name}`);
        } else if (nested instanceof protobuf.Type || nested instanceof protobuf.Enum) {
          out.push(nested.fullName.slice(1));
        }
        if (nested instanceof protobuf.Namespace) walk(nested);
      }
    };
    walk(this.proto.root);
    return out;
  }
}

export function methodInfo(service: protobuf.Service, method: protobuf.Method): MethodInfo {
  method.resolve();
  const kind: MethodKind = method.requestStream
    ? method.responseStream ? 'bidi-streaming' : 'client-streaming'
    : method.responseStream ? 'server-streaming' : 'unary';
  // Parsed .proto files keep the option in parsedOptions (a number); descriptors from reflection, in options (a name).
  let idempotency = 'IDEMPOTENCY_UNKNOWN';
  const levels = [...(method.parsedOptions ?? []), method.options ?? {}].map((entry) => (entry as Record<string, unknown>)['idempotency_level']);
  for (const level of levels) {
    if (level !== undefined) idempotency = level === 1 ? 'NO_SIDE_EFFECTS' : level === 2 ? 'IDEMPOTENT' : String(level);
  }
  return {
    service: service.fullName.slice(1),
    name: method.name,
    kind,
    requestType: method.resolvedRequestType!.fullName.slice(1),
    responseType: method.resolvedResponseType!.fullName.slice(1),
    idempotency,
    request: method.resolvedRequestType!,
    response: method.resolvedResponseType!,
  };
}
