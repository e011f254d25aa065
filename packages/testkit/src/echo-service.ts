import { Code, RpcError, type ServerInvocation, type ServiceDefinition } from '@trellis/core';
import { loadProto } from '@trellis/codec-protobuf';
import * as path from 'node:path';

/** protos/echo.proto; `..` from src/ and from dist/ alike. */
export const ECHO_PROTO_PATH = path.join(__dirname, '..', 'protos', 'echo.proto');
export const ECHO_SERVICE_NAME = 'trellis.test.EchoService';

/** trellis.test.EchoRequest as decoded with the default load options (camelCase, int64 as string). */
export interface EchoRequest {
  message: string;
  id: string;
  values: number[];
  delayMs: number;
  failCode: number;
  failMessage: string;
}

/** trellis.test.EchoReply as a handler returns it (encode accepts a number `id` too). */
export interface EchoReply {
  message: string;
  id: string | number;
  values: number[];
  servedBy: string;
  attempt: number;
}

let echoService: ServiceDefinition | undefined;

/** The EchoService definition, loaded once per process (codecs are compiled on load). */
export function loadEchoService(): ServiceDefinition {
  echoService ??= loadProto(ECHO_PROTO_PATH).service(ECHO_SERVICE_NAME);
  return echoService;
}

export interface EchoHandlerOptions {
  /** Put in every reply's `servedBy`, so tests see which provider answered. */
  readonly servedBy: string;
  /** Called as each call starts, before any delay; `method` is the .proto name (`Echo`, `Mutate`). */
  readonly onCall?: (method: string, request: EchoRequest) => void;
}

export type EchoHandler = (request: EchoRequest, call: ServerInvocation) => Promise<EchoReply>;

export interface EchoHandlers {
  readonly echo: EchoHandler;
  readonly mutate: EchoHandler;
}

/** The abort reason when the kernel gave one (DEADLINE_EXCEEDED, CANCELLED…), else CANCELLED. */
function cancelled(reason: unknown): RpcError {
  if (reason instanceof RpcError) return reason;
  return new RpcError(Code.CANCELLED, 'echo handler cancelled while waiting delay_ms', { cause: reason });
}

/** Waits `ms`, or rejects CANCELLED as soon as `signal` aborts; no timer or listener outlives it. */
function wait(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(cancelled(signal.reason));
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(cancelled(signal.reason));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function handler(method: string, options: EchoHandlerOptions): EchoHandler {
  return async (request, call) => {
    options.onCall?.(method, request);
    // call.signal is created on first access; touching it only when there is a delay keeps the
    // common path as cheap as a real handler's.
    if (request.delayMs > 0) await wait(request.delayMs, call.signal);
    if (request.failCode !== 0) throw new RpcError(request.failCode as Code, request.failMessage || 'injected failure');
    return {
      message: request.message,
      id: request.id,
      values: request.values,
      servedBy: options.servedBy,
      attempt: call.attempt,
    };
  };
}

/**
 * Handlers for EchoService whose behaviour each request controls: `delay_ms` (latency injection),
 * `fail_code`/`fail_message` (error injection, after the delay). Both methods behave alike; only
 * their idempotency differs (see echo.proto).
 */
export function createEchoHandlers(options: EchoHandlerOptions): EchoHandlers {
  return { echo: handler('Echo', options), mutate: handler('Mutate', options) };
}
