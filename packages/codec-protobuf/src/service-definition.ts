import { ErrorCodes, TrellisError, type MethodDefinition, type MethodKind, type ServiceDefinition } from '@trellis/core';
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
 * A service built from a .proto. `methods` holds every method, keyed by the name written in the
 * .proto (`SayHello`), each with its `kind` from the `stream` keywords (`unary`,
 * `server-streaming`, `client-streaming`, `bidi-streaming`; issue #18).
 */
export interface ProtoServiceDefinition extends ServiceDefinition {
  readonly methods: Readonly<Record<string, ProtoMethodDefinition>>;
  /** Names (as in the .proto) of the client-, server- and bidi-streaming methods (all in `methods`). */
  readonly streamingMethods: readonly string[];
}

function kindOf(method: protobuf.Method): MethodKind {
  if (method.requestStream) return method.responseStream ? 'bidi-streaming' : 'client-streaming';
  return method.responseStream ? 'server-streaming' : 'unary';
}

export function buildServiceDefinition(service: protobuf.Service, codecs: CodecFactory): ProtoServiceDefinition {
  const name = service.fullName.slice(1);
  const methods: Record<string, ProtoMethodDefinition> = {};
  const streamingMethods: string[] = [];
  const localNames = new Map<string, string>();
  for (const method of service.methodsArray) {
    const kind = kindOf(method);
    if (kind !== 'unary') streamingMethods.push(method.name);
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
      kind,
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
