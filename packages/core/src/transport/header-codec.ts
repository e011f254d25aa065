import type { Metadata } from '../metadata.js';
import { FIXED_HEADER_SIZE, FrameType, writeFixedHeader } from './frame.js';
import {
  stringFieldSize, varintSize, WireError, WireReader, writeStringField, writeVarint, writeVarintField,
} from './proto-wire.js';

/**
 * RequestHeader  { string service = 1; string method = 2; string group = 3; string version = 4;
 *                  uint32 timeout_ms = 5; uint32 attempt = 6; repeated Entry metadata = 7; }
 * ResponseHeader { uint32 code = 1; string message = 2; bool not_executed = 3; repeated Entry metadata = 7; }
 * Entry          { string key = 1; string value = 2; }
 */
export interface RequestHeader {
  readonly group: string;
  readonly service: string;
  readonly version: string;
  readonly method: string;
  readonly timeoutMs: number;
  readonly attempt: number;
  readonly metadata: Metadata;
}

export interface ResponseHeader {
  readonly code: number;
  readonly message: string;
  readonly notExecuted: boolean;
  /** Shared empty map when the server sent no trailers: treat as read-only. */
  readonly metadata: ReadonlyMap<string, string>;
}

const METADATA_FIELD = 7;

/**
 * The route part of a request header (service, method, group, version) is the same for every call
 * of a method: it is encoded once and copied. Nested maps keyed by the descriptor's own strings avoid
 * building a key string per call (their hashes are cached on the string objects).
 */
const routeCache = new Map<string, Map<string, Map<string, Map<string, Buffer>>>>();

function routeBytes(group: string, service: string, version: string, method: string): Buffer {
  let byMethod = routeCache.get(service);
  if (byMethod === undefined) routeCache.set(service, (byMethod = new Map()));
  let byGroup = byMethod.get(method);
  if (byGroup === undefined) byMethod.set(method, (byGroup = new Map()));
  let byVersion = byGroup.get(group);
  if (byVersion === undefined) byGroup.set(group, (byVersion = new Map()));
  let bytes = byVersion.get(version);
  if (bytes === undefined) {
    const parts: [number, string][] = [[1, service], [2, method], [3, group], [4, version]];
    let size = 0;
    for (const [field, value] of parts) size += stringFieldSize(field, Buffer.byteLength(value));
    bytes = Buffer.alloc(size);
    let offset = 0;
    for (const [field, value] of parts) offset = writeStringField(bytes, offset, field, value, Buffer.byteLength(value));
    byVersion.set(version, bytes);
  }
  return bytes;
}

function metadataSize(metadata: Metadata | undefined, lengths: number[]): number {
  if (metadata === undefined || metadata.size === 0) return 0;
  let size = 0;
  for (const [key, value] of metadata) {
    const k = Buffer.byteLength(key);
    const v = Buffer.byteLength(value);
    const entry = stringFieldSize(1, k) + stringFieldSize(2, v);
    lengths.push(k, v, entry);
    size += varintSize(METADATA_FIELD << 3) + varintSize(entry) + entry;
  }
  return size;
}

function writeMetadata(buf: Buffer, offset: number, metadata: Metadata | undefined, lengths: number[]): number {
  if (metadata === undefined || metadata.size === 0) return offset;
  let i = 0;
  for (const [key, value] of metadata) {
    const k = lengths[i++]!;
    const v = lengths[i++]!;
    const entry = lengths[i++]!;
    offset = writeVarint(buf, offset, (METADATA_FIELD << 3) | 2);
    offset = writeVarint(buf, offset, entry);
    offset = writeStringField(buf, offset, 1, key, k);
    offset = writeStringField(buf, offset, 2, value, v);
  }
  return offset;
}

const scratch: number[] = [];

/** Encodes a whole REQUEST frame (fixed header + protobuf header + body) into one buffer. */
export function encodeRequestFrame(streamId: number, header: RequestHeader, body: Uint8Array): Buffer {
  const route = routeBytes(header.group, header.service, header.version, header.method);
  scratch.length = 0;
  const headerSize =
    route.length +
    1 + varintSize(header.timeoutMs) +
    1 + varintSize(header.attempt) +
    metadataSize(header.metadata, scratch);
  const frame = Buffer.allocUnsafe(FIXED_HEADER_SIZE + headerSize + body.length);
  writeFixedHeader(frame, FrameType.REQUEST, streamId, headerSize, body.length);
  let offset = FIXED_HEADER_SIZE + route.copy(frame, FIXED_HEADER_SIZE);
  offset = writeVarintField(frame, offset, 5, header.timeoutMs);
  offset = writeVarintField(frame, offset, 6, header.attempt);
  offset = writeMetadata(frame, offset, header.metadata, scratch);
  frame.set(body, offset);
  return frame;
}

/** Encodes a RESPONSE (or GOAWAY) frame; an OK response with no trailers has a 2-byte header. */
export function encodeResponseFrame(
  type: FrameType.RESPONSE | FrameType.GOAWAY,
  streamId: number,
  code: number,
  message: string,
  notExecuted: boolean,
  metadata: Metadata | undefined,
  body: Uint8Array | undefined,
): Buffer {
  scratch.length = 0;
  const messageLength = message === '' ? 0 : Buffer.byteLength(message);
  const headerSize =
    1 + varintSize(code) +
    (messageLength > 0 ? stringFieldSize(2, messageLength) : 0) +
    (notExecuted ? 2 : 0) +
    metadataSize(metadata, scratch);
  const bodyLength = body?.length ?? 0;
  const frame = Buffer.allocUnsafe(FIXED_HEADER_SIZE + headerSize + bodyLength);
  writeFixedHeader(frame, type, streamId, headerSize, bodyLength);
  let offset = writeVarintField(frame, FIXED_HEADER_SIZE, 1, code);
  if (messageLength > 0) offset = writeStringField(frame, offset, 2, message, messageLength);
  if (notExecuted) offset = writeVarintField(frame, offset, 3, 1);
  offset = writeMetadata(frame, offset, metadata, scratch);
  if (body) frame.set(body, offset);
  return frame;
}

function readEntry(reader: WireReader, metadata: Metadata): void {
  const [start, end] = reader.bytes();
  const entry = new WireReader(reader.buf, start, end);
  let key = '';
  let value = '';
  while (!entry.done) {
    const tag = entry.varint();
    if (tag === 10) key = entry.string();
    else if (tag === 18) value = entry.string();
    else entry.skip(tag & 7);
  }
  metadata.set(key, value);
}

/**
 * The last route a connection decoded. Clients write the route fields first and byte-identically
 * for every call of a method, so a byte comparison usually replaces four string decodes.
 */
export interface RouteMemo {
  bytes: Buffer | undefined;
  service: string;
  method: string;
  group: string;
  version: string;
}

export function createRouteMemo(): RouteMemo {
  return { bytes: undefined, service: '', method: '', group: '', version: '' };
}

export function decodeRequestHeader(buf: Buffer, start: number, end: number, memo?: RouteMemo, maxMetadataEntries = 64): RequestHeader {
  const reader = new WireReader(buf, start, end);
  let service = '';
  let method = '';
  let group = '';
  let version = '';
  const cached = memo?.bytes;
  const hit = cached !== undefined && end - start >= cached.length && buf.compare(cached, 0, cached.length, start, start + cached.length) === 0;
  if (hit) {
    ({ service, method, group, version } = memo!);
    reader.pos = start + cached.length;
  }
  let timeoutMs = 0;
  let attempt = 1;
  const metadata: Metadata = new Map();
  while (!reader.done) {
    const tag = reader.varint();
    switch (tag) {
      case 10: service = reader.string(); break;
      case 18: method = reader.string(); break;
      case 26: group = reader.string(); break;
      case 34: version = reader.string(); break;
      case 40: timeoutMs = reader.varint(); break;
      case 48: attempt = reader.varint(); break;
      case 58:
        readEntry(reader, metadata);
        if (metadata.size > maxMetadataEntries) throw new WireError(`more than ${maxMetadataEntries} metadata entries (maxMetadataEntries)`);
        break;
      default: reader.skip(tag & 7);
    }
  }
  if (service === '' || method === '') throw new WireError('request header names no service or method');
  if (memo !== undefined && !hit) rememberRoute(memo, buf, start, end, { service, method, group, version });
  return { group, service, version, method, timeoutMs, attempt, metadata };
}

/** Stores the route prefix (fields 1–4 in order) of a header; headers written otherwise are not cached. */
function rememberRoute(memo: RouteMemo, buf: Buffer, start: number, end: number, route: { service: string; method: string; group: string; version: string }): void {
  const reader = new WireReader(buf, start, end);
  for (const expectedTag of [10, 18, 26, 34]) {
    if (reader.done || reader.varint() !== expectedTag) return;
    reader.bytes();
  }
  memo.bytes = Buffer.from(buf.subarray(start, reader.pos));
  memo.service = route.service;
  memo.method = route.method;
  memo.group = route.group;
  memo.version = route.version;
}

const EMPTY_METADATA: ReadonlyMap<string, string> = new Map();

const OK_HEADER: ResponseHeader = { code: 0, message: '', notExecuted: false, metadata: EMPTY_METADATA };

export function decodeResponseHeader(buf: Buffer, start: number, end: number): ResponseHeader {
  // The common case: OK with no trailers is exactly `08 00`.
  if (end - start === 2 && buf[start] === 8 && buf[start + 1] === 0) return OK_HEADER;
  const reader = new WireReader(buf, start, end);
  let code = 0;
  let message = '';
  let notExecuted = false;
  let metadata: Metadata | undefined;
  while (!reader.done) {
    const tag = reader.varint();
    switch (tag) {
      case 8: code = reader.varint(); break;
      case 18: message = reader.string(); break;
      case 24: notExecuted = reader.varint() !== 0; break;
      case 58: readEntry(reader, (metadata ??= new Map())); break;
      default: reader.skip(tag & 7);
    }
  }
  return { code, message, notExecuted, metadata: metadata ?? EMPTY_METADATA };
}
