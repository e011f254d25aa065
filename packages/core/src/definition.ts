import type { StreamKind } from './transport-stream.js';

/**
 * A method's shape: one request and one response (`unary`), or a stream on one or both sides
 * (issue #18). Handlers and typed clients differ per kind (see docs/architecture.md, "Streams").
 */
export type MethodKind = 'unary' | StreamKind;

/** The kind of a method; definitions built by hand without `kind` are unary. */
export function methodKind(method: { readonly kind?: MethodKind }): MethodKind {
  return method.kind ?? 'unary';
}

/** True for the three stream kinds. */
export function isStreamKind(kind: MethodKind | undefined): kind is StreamKind {
  return kind !== undefined && kind !== 'unary';
}

/**
 * What a service looks like, independent of the serialization library: codec-protobuf builds these
 * from .proto files, tests may build them by hand. The kernel never imports protobufjs.
 */
export interface MessageCodec<T = unknown> {
  encode(message: T): Uint8Array;
  /** Throws on malformed input; the kernel maps that to INVALID_ARGUMENT. */
  decode(bytes: Uint8Array): T;
  /**
   * Optional fast path (a codec has both or neither): the encoded size of `message` — throwing
   * where `encode` would — and then its bytes written at `offset` of `target` (returns the end
   * offset). The kernel calls `encodeInto` right after `encodedLength`, for the same message and on
   * the same tick, to write a stream message straight into the connection's write batch.
   */
  encodedLength?(message: T): number;
  encodeInto?(message: T, target: Uint8Array, offset: number): number;
}

export interface MethodDefinition<Req = unknown, Res = unknown> {
  /** The method name as written in the .proto file, e.g. `SayHello`. */
  readonly name: string;
  /** The lowerCamel name used on typed clients and handler classes, e.g. `sayHello`. */
  readonly localName: string;
  readonly requestCodec: MessageCodec<Req>;
  readonly responseCodec: MessageCodec<Res>;
  /**
   * `unary` (the default when left out), `server-streaming`, `client-streaming` or `bidi-streaming`.
   * codec-protobuf sets it from the .proto's `stream` keywords.
   */
  readonly kind?: MethodKind;
  /** Safe to run twice (from `option idempotency_level`, `@RpcMethod`, or config). */
  readonly idempotent: boolean;
  /** Extra options for plugins (e.g. proto method options). */
  readonly options: Readonly<Record<string, unknown>>;
}

export interface ServiceDefinition {
  /** Fully qualified name, e.g. `helloworld.Greeter`. */
  readonly name: string;
  readonly methods: Readonly<Record<string, MethodDefinition>>;
}

/** The method descriptor a call carries: the definition plus its owning service name. */
export interface MethodDescriptor<Req = unknown, Res = unknown> extends MethodDefinition<Req, Res> {
  readonly service: string;
  /** Always set on descriptors the kernel builds (`describeMethods`): the kind of the call. */
  readonly kind?: MethodKind;
}

export function describeMethods(definition: ServiceDefinition): Map<string, MethodDescriptor> {
  const methods = new Map<string, MethodDescriptor>();
  for (const method of Object.values(definition.methods)) {
    methods.set(method.name, { ...method, kind: methodKind(method), service: definition.name });
  }
  return methods;
}
