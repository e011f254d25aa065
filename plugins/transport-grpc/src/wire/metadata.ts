import type { IncomingHttpHeaders } from 'node:http2';
import type { Metadata } from '@trellis/core';

/**
 * gRPC metadata as Trellis metadata: a `Map<string, string>` with lower-case keys. ASCII values are
 * kept as they are; a key ending in `-bin` carries binary bytes, held in the map as their base64
 * text exactly as on the wire (read and write them with binaryMetadata / setBinaryMetadata).
 */

/** Headers the protocol itself owns: never handed to applications, never accepted from them. */
const PROTOCOL_HEADERS: ReadonlySet<string> = new Set([
  'content-type', 'te', 'host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade',
  'content-length', 'accept-encoding', 'content-encoding',
]);

/** Reserved for the protocol on the way out as well; user-agent is set by the engine's option. */
function reservedOutgoing(key: string): boolean {
  return key.charCodeAt(0) === 0x3a /* ':' */ || key.startsWith('grpc-') || PROTOCOL_HEADERS.has(key) || key === 'user-agent';
}

/** `grpc-status-details-bin` is the one `grpc-` key applications may read (rich error details). */
function hiddenIncoming(key: string): boolean {
  return key.charCodeAt(0) === 0x3a || PROTOCOL_HEADERS.has(key) || (key.startsWith('grpc-') && key !== 'grpc-status-details-bin');
}

function validKey(key: string): boolean {
  if (key.length === 0) return false;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    // 0-9 a-z _ - .
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x2d || c === 0x2e)) return false;
  }
  return true;
}

function validAsciiValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function isBinaryKey(key: string): boolean {
  return key.length > 4 && key.endsWith('-bin');
}

/**
 * Copies application metadata into an HTTP/2 header object, refusing reserved keys (`:…`, `grpc-…`,
 * content-type, te, user-agent…), keys outside `[0-9a-z_.-]`, non-printable ASCII values and `-bin`
 * values that are not base64. Returns the reason of the first refusal, or undefined.
 */
export function appendMetadata(target: Record<string, string | string[]>, metadata: ReadonlyMap<string, string> | undefined): string | undefined {
  if (metadata === undefined || metadata.size === 0) return undefined;
  for (const [key, value] of metadata) {
    if (!validKey(key)) return `metadata key ${JSON.stringify(key)} is not valid (lower-case letters, digits, "_", "-", "." only)`;
    if (reservedOutgoing(key)) return `metadata key "${key}" is reserved for the gRPC protocol`;
    if (typeof value !== 'string') return `metadata "${key}" must be a string (base64 for a -bin key)`;
    if (isBinaryKey(key) ? !BASE64.test(value) : !validAsciiValue(value)) {
      return isBinaryKey(key)
        ? `metadata "${key}" is a binary key: its value must be base64 (use setBinaryMetadata)`
        : `metadata "${key}" has a value with characters outside printable ASCII (use a "-bin" key for bytes)`;
    }
    target[key] = value;
  }
  return undefined;
}

/** The application metadata in received headers or trailers: protocol headers left out. */
export function metadataFromHeaders(headers: IncomingHttpHeaders): Metadata {
  const metadata: Metadata = new Map();
  for (const key in headers) {
    if (hiddenIncoming(key)) continue;
    const raw = headers[key];
    if (raw === undefined) continue;
    const value = typeof raw === 'string' ? raw : raw.join(', ');
    if (isBinaryKey(key)) {
      // Repeated binary values arrive comma-joined: each part is its own base64 run.
      const parts = value.split(',').map((part) => part.trim());
      if (!parts.every((part) => BASE64.test(part))) continue;
      metadata.set(key, parts.length === 1 ? parts[0]! : Buffer.concat(parts.map((part) => Buffer.from(part, 'base64'))).toString('base64'));
    } else {
      metadata.set(key, value);
    }
  }
  return metadata;
}

/** The bytes of a `-bin` metadata entry (padded or unpadded base64 both accepted). */
export function binaryMetadata(metadata: ReadonlyMap<string, string>, key: string): Buffer | undefined {
  const value = metadata.get(key);
  return value === undefined ? undefined : Buffer.from(value, 'base64');
}

/** Sets a `-bin` entry from bytes (the key must end in `-bin`). */
export function setBinaryMetadata(metadata: Metadata, key: string, bytes: Uint8Array): Metadata {
  if (!isBinaryKey(key)) throw new TypeError(`binary metadata keys end in "-bin"; got "${key}"`);
  // Unpadded, as the spec asks senders to emit.
  metadata.set(key, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64').replace(/=+$/, ''));
  return metadata;
}
