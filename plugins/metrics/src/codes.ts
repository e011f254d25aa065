import { Code } from '@trellis/core';

/** The Trellis code of whatever a call threw: RpcError's code, else UNKNOWN (as the kernel maps it). */
export function codeOf(error: unknown): Code {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' && Code[code] !== undefined ? code : Code.UNKNOWN;
}

/** `OK`, `NOT_FOUND`…: the label value, as grpc_code is in gRPC's Prometheus metrics. */
export function codeLabel(code: Code): string {
  return Code[code] ?? String(code);
}
