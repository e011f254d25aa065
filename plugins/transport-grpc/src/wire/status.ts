import { Code } from '@trellis/core';

/**
 * `grpc-message` is percent-encoded (gRPC over HTTP/2, "Responses"): the UTF-8 bytes of the message,
 * with every byte outside printable ASCII (0x20–0x7E) and `%` itself written as `%XX`.
 */
export function encodeGrpcMessage(message: string): string {
  // Fast path: most messages are plain ASCII and need no encoding at all.
  let plain = true;
  for (let i = 0; i < message.length; i++) {
    const c = message.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return message;
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out += byte < 0x20 || byte > 0x7e || byte === 0x25 ? `%${byte < 16 ? '0' : ''}${byte.toString(16).toUpperCase()}` : String.fromCharCode(byte);
  }
  return out;
}

/**
 * The inverse, lenient as the spec asks: a `%` not followed by two hex digits is kept as it is, and
 * bytes that are not valid UTF-8 become U+FFFD rather than failing the call.
 */
export function decodeGrpcMessage(value: string): string {
  if (!value.includes('%')) return value;
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x25 && i + 2 < value.length && isHex(value.charCodeAt(i + 1)) && isHex(value.charCodeAt(i + 2))) {
      bytes.push(parseInt(value.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      for (const b of Buffer.from(value[i]!, 'utf8')) bytes.push(b);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** `grpc-status` as a Code; anything that is not an integer 0..16 is UNKNOWN (the spec's rule). */
export function parseGrpcStatus(value: string | undefined): Code | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || value.trim() === '') return Code.UNKNOWN;
  return n >= 0 && n <= 16 ? (n as Code) : Code.UNKNOWN;
}

/**
 * The code for a response that carries no `grpc-status` (a proxy or a non-gRPC server answered),
 * per the gRPC "HTTP to gRPC status code mapping".
 */
export function codeFromHttpStatus(status: number): Code {
  switch (status) {
    case 400: return Code.INTERNAL;
    case 401: return Code.UNAUTHENTICATED;
    case 403: return Code.PERMISSION_DENIED;
    case 404: return Code.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504: return Code.UNAVAILABLE;
    default: return Code.UNKNOWN;
  }
}

export function codeName(code: Code): string {
  return Code[code] ?? String(code);
}
