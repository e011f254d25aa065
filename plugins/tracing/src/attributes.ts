import { SpanKind, SpanStatusCode, type Attributes, type Span, type SpanOptions } from '@opentelemetry/api';
import { Code, type MethodDescriptor } from '@trellis/core';

/**
 * Which OpenTelemetry RPC conventions to write. `legacy` (rpc.system, rpc.service, rpc.method = the
 * bare method) is what most backends read today; `stable` is semantic-conventions ≥ 1.38
 * (rpc.system.name, rpc.method = `service/method`, rpc.status_code as a name).
 */
export type Semconv = 'legacy' | 'stable';

export const RPC_SYSTEM = 'trellis';

/** Attribute and event names this plugin writes beyond the standard ones. */
export const TrellisAttributes = {
  /** Legacy mode's status code (a number, Trellis codes are gRPC's), after `rpc.grpc.status_code`. */
  STATUS_CODE: 'rpc.trellis.status_code',
  /** Client span: how many times the call was sent (every try, transparent re-sends included). */
  ATTEMPTS: 'trellis.attempts',
  /** Attempt event and server span: the attempt number the retry policy gave (`Invocation.attempt`). */
  ATTEMPT: 'trellis.attempt',
  /** Attempt event: 1-based position of this send among the call's sends. */
  ATTEMPT_INDEX: 'trellis.attempt.index',
  /** Attempt event: a re-send of a request the kernel knows never ran (transparent retry). */
  ATTEMPT_TRANSPARENT: 'trellis.attempt.transparent',
  ATTEMPT_DURATION_MS: 'trellis.attempt.duration_ms',
  ERROR_MESSAGE: 'trellis.error.message',
  /** Server span: the caller's service name (`trellis-caller` metadata), when it sent one. */
  CALLER: 'trellis.caller',
  /** Stream spans (issue #18), client and server: the method's kind (`server-streaming`, …). */
  STREAM_KIND: 'trellis.stream.kind',
  /** Client stream span: ms until the server accepted the stream. */
  STREAM_SET_UP_MS: 'trellis.stream.set_up_ms',
  /** Client stream span: request messages sent over the whole stream. */
  STREAM_MESSAGES_SENT: 'trellis.stream.messages.sent',
  /** Client stream span: response messages received over the whole stream. */
  STREAM_MESSAGES_RECEIVED: 'trellis.stream.messages.received',
} as const;

/** The span event each send of a call adds to the client span. */
export const ATTEMPT_EVENT = 'trellis.attempt';

export interface MethodSpanInfo {
  /** `package.Service/Method`, the span name both conventions prescribe. */
  readonly name: string;
  /** Given at span start so samplers can see them; shared, never mutated. */
  readonly attributes: Attributes;
  /** `startSpan` options of this method's CLIENT and SERVER spans: built once, not per call. */
  readonly clientOptions: SpanOptions;
  readonly serverOptions: SpanOptions;
}

/** Span name and start attributes per method, computed once per descriptor. */
export class MethodSpanInfoCache {
  private readonly cache = new WeakMap<MethodDescriptor, MethodSpanInfo>();

  constructor(private readonly semconv: Semconv) {}

  get(method: MethodDescriptor): MethodSpanInfo {
    let info = this.cache.get(method);
    if (info === undefined) {
      const name = `${method.service}/${method.name}`;
      const attributes: Attributes = this.semconv === 'stable'
        ? { 'rpc.system.name': RPC_SYSTEM, 'rpc.method': name }
        : { 'rpc.system': RPC_SYSTEM, 'rpc.service': method.service, 'rpc.method': method.name };
      Object.freeze(attributes);
      info = {
        name, attributes,
        clientOptions: { kind: SpanKind.CLIENT, attributes },
        serverOptions: { kind: SpanKind.SERVER, attributes },
      };
      this.cache.set(method, info);
    }
    return info;
  }
}

/** The Trellis code of whatever a call threw: RpcError's code, else UNKNOWN (as the kernel maps it). */
export function codeOf(error: unknown): Code {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' && Code[code] !== undefined ? code : Code.UNKNOWN;
}

export function codeName(code: Code): string {
  return Code[code] ?? String(code);
}

export function statusAttribute(semconv: Semconv): string {
  return semconv === 'stable' ? 'rpc.status_code' : TrellisAttributes.STATUS_CODE;
}

export function statusValue(semconv: Semconv, code: Code): string | number {
  return semconv === 'stable' ? codeName(code) : code;
}

// The gRPC conventions: on a server only these codes are the server's fault; NOT_FOUND,
// INVALID_ARGUMENT … are the caller's and leave the server span's status unset.
const SERVER_ERROR_CODES: ReadonlySet<Code> = new Set([
  Code.UNKNOWN, Code.DEADLINE_EXCEEDED, Code.UNIMPLEMENTED, Code.INTERNAL, Code.UNAVAILABLE, Code.DATA_LOSS,
]);

/** Status, code attributes and the exception event of a failed call. */
export function recordFailure(span: Span, semconv: Semconv, error: unknown, side: 'client' | 'server'): void {
  const code = codeOf(error);
  span.setAttribute(statusAttribute(semconv), statusValue(semconv, code));
  span.setAttribute('error.type', codeName(code));
  // Not the error itself: the SDK would report its numeric `code` as exception.type; the class
  // name is the type, and the code already is in error.type.
  if (error instanceof Error) span.recordException({ name: error.name, message: error.message, stack: error.stack });
  else span.recordException(String(error));
  if (side === 'client' || SERVER_ERROR_CODES.has(code)) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  }
}

export function recordSuccess(span: Span, semconv: Semconv): void {
  span.setAttribute(statusAttribute(semconv), statusValue(semconv, Code.OK));
}
