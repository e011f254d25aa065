import { ErrorCodes, TrellisError, type MethodDefinition, type ServiceDefinition } from '@trellis/core';
import type * as protobuf from 'protobufjs';
import { localName } from './local-name.js';
import type { CodecFactory } from './message-codec.js';
import { isIdempotent, methodOptions } from './method-options.js';

/** A method built from a .proto: the kernel's definition plus the message type names. */
export interface ProtoMethodDefinition extends MethodDefinition {
  /** Fully qualified request type, e.g. `trellis.test.EchoRequest`. */
  readonly requestType: string;
  /** Fully qualified response type, e.g. `trellis.test.EchoReply`. */
  readonly responseType: string;
}

/**
 * A service built from a .proto. `methods` holds its unary methods, keyed by the name written in
 * the .proto (`SayHello`). Streaming methods are not in `methods` — the kernel only runs unary calls
 * for now — and are listed in `streamingMethods` instead, so the rest of a service that mixes both
 * stays usable, and a caller can still see (and refuse) what was left out.
 */
export interface ProtoServiceDefinition extends ServiceDefinition {
  readonly methods: Readonly<Record<string, ProtoMethodDefinition>>;
  /** Names (as in the .proto) of the client-, server- or bidi-streaming methods left out. */
  readonly streamingMethods: readonly string[];
}

export function buildServiceDefinition(service: protobuf.Service, codecs: CodecFactory): ProtoServiceDefinition {
  const name = service.fullName.slice(1);
  const methods: Record<string, ProtoMethodDefinition> = {};
  const streamingMethods: string[] = [];
  const localNames = new Map<string, string>();
  for (const method of service.methodsArray) {
    if (method.requestStream || method.responseStream) {
      streamingMethods.push(method.name);
      continue;
    }
    const local = localName(method.name);
    const clash = localNames.get(local);
    if (clash !== undefined) {
      throw new TrellisError(
        ErrorCodes.SERVICE_INVALID,
        `service "${name}": methods "${clash}" and "${method.name}" both map to "${local}" on typed clients; rename one in the .proto`,
      );
    }
    localNames.set(local, method.name);
    // resolveAll() ran at load time, so the resolved types are set.
    const requestType = method.resolvedRequestType!;
    const responseType = method.resolvedResponseType!;
    const options = methodOptions(method);
    methods[method.name] = Object.freeze({
      name: method.name,
      localName: local,
      requestCodec: codecs.codec(requestType),
      responseCodec: codecs.codec(responseType),
      idempotent: isIdempotent(options),
      options,
      requestType: requestType.fullName.slice(1),
      responseType: responseType.fullName.slice(1),
    });
  }
  return Object.freeze({
    name,
    methods: Object.freeze(methods),
    streamingMethods: Object.freeze(streamingMethods),
  });
}
