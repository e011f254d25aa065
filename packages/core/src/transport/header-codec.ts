import { Code } from '../errors.js';
import { FixedMetadata, type Metadata } from '../metadata.js';
import { FIXED_HEADER_SIZE, FrameType, MAGIC_0, MAGIC_1, MAX_HEADER_LENGTH, PROTOCOL_VERSION, writeFixedHeader, type FrameLimits } from './frame.js';
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

// The route of the last request encoded: a client calls one method many times in a row, and the
// descriptor's own strings compare by identity (four pointer checks instead of four Map lookups).
let lastGroup: string | undefined;
let lastService: string | undefined;
let lastVersion: string | undefined;
let lastMethod: string | undefined;
let lastRoute: Buffer = Buffer.alloc(0);

function routeBytes(group: string, service: string, version: string, method: string): Buffer {
  if (method === lastMethod && service === lastService && group === lastGroup && version === lastVersion) return lastRoute;
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
  lastGroup = group;
  lastService = service;
  lastVersion = version;
  lastMethod = method;
  lastRoute = bytes;
  return bytes;
}

function metadataSize(metadata: Metadata | undefined, lengths: number[]): number {
  if (metadata === undefined || metadata.size === 0) return 0;
  let size = 0;
  let i = 0;
  for (const [key, value] of metadata) {
    const k = Buffer.byteLength(key);
    const v = Buffer.byteLength(value);
    const entry = stringFieldSize(1, k) + stringFieldSize(2, v);
    lengths[i++] = k;
    lengths[i++] = v;
    lengths[i++] = entry;
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

/**
 * Three lengths per entry, measured by metadataSize for the writeMetadata that follows. Written by
 * index, never emptied (`length = 0` drops V8's backing store: a new one per frame); shrunk only
 * after an unusually long trailer list.
 */
const scratch: number[] = [];
const SCRATCH_KEPT = 3 * 64;

function resetScratch(): void {
  if (scratch.length > SCRATCH_KEPT) scratch.length = 0;
}

/**
 * The request metadata block (its encoded field-7 entries) written last, and the entries it holds.
 * A client sends the same entries call after call — a credential, the caller's name: usually the very
 * same string objects — so comparing the strings replaces measuring and encoding them (equal strings
 * have equal UTF-8 bytes: always correct). One block per process, kept only up to MAX_KEPT_BLOCK bytes.
 */
const blockKeys: string[] = [];
const blockValues: string[] = [];
let blockEntries = 0;
let block: Buffer = Buffer.alloc(0);
/** The fixed metadata map `block` was encoded from, if it was one (it cannot change: no compare needed). */
let blockFixed: FixedMetadata | undefined;
const NO_BLOCK: Buffer = Buffer.alloc(0);
const MAX_KEPT_BLOCK = 1024;

/** The encoded metadata entries of a request: the kept block when the entries are the same. */
function requestMetadataBlock(metadata: Metadata | undefined): Buffer {
  if (metadata === undefined || metadata.size === 0) return NO_BLOCK;
  // A client's fixed metadata (read-only, shared by its calls): the same map is the same block.
  if (metadata === blockFixed) return block;
  if (metadata.size === blockEntries && sameAsBlock(metadata)) {
    if (metadata instanceof FixedMetadata) blockFixed = metadata;
    return block;
  }
  resetScratch();
  const size = metadataSize(metadata, scratch);
  const encoded = Buffer.allocUnsafe(size);
  writeMetadata(encoded, 0, metadata, scratch);
  if (size > MAX_KEPT_BLOCK) return encoded;
  let i = 0;
  for (const [key, value] of metadata) {
    blockKeys[i] = key;
    blockValues[i++] = value;
  }
  blockKeys.length = i;
  blockValues.length = i;
  blockEntries = i;
  block = encoded;
  blockFixed = metadata instanceof FixedMetadata ? metadata : undefined;
  return encoded;
}

// `forEach` with a module-level callback: a `for…of` over the Map allocates an iterator and an entry
// array per entry (64 B per call with one entry), this nothing.
let compared = 0;
let differs = false;

function compareEntry(value: string, key: string): void {
  const i = compared++;
  if (key !== blockKeys[i] || value !== blockValues[i]) differs = true;
}

function sameAsBlock(metadata: Metadata): boolean {
  compared = 0;
  differs = false;
  metadata.forEach(compareEntry);
  return !differs;
}


/** An outgoing frame would break a limit of the receiving peer (or of the frame format itself). */
export class FrameLimitError extends Error {
  override readonly name = 'FrameLimitError';
  constructor(
    readonly limit: 'maxHeaderSize' | 'maxBodySize' | 'maxMetadataEntries',
    readonly size: number,
    readonly max: number,
    what: string,
  ) {
    super(`${what} of ${size} ${limit === 'maxMetadataEntries' ? 'entries' : 'bytes'} exceeds the peer's limit of ${max} (${limit})`);
  }
}

/** What the frame format itself can carry: a 16-bit header length, a 32-bit body length. */
export const ENCODABLE_LIMITS: FrameLimits = { maxHeaderSize: MAX_HEADER_LENGTH, maxBodySize: 0xffffffff, maxMetadataEntries: Infinity };

/** uint32 fields: anything else would be written as a varint of another length than was sized. */
function uint32(value: number): number {
  return value >>> 0 === value ? value : Math.min(0xffffffff, Math.max(0, Math.ceil(value) || 0));
}

/**
 * Encodes a whole REQUEST frame (fixed header + protobuf header + body) into one buffer. Checks it
 * against the receiver's `limits` first and throws FrameLimitError, so nothing the peer would refuse
 * is ever written.
 */
export function encodeRequestFrame(streamId: number, header: RequestHeader, body: Uint8Array, limits: FrameLimits = ENCODABLE_LIMITS): Buffer {
  const frame = Buffer.allocUnsafe(requestFrameSize(header, body.length, limits));
  frame.set(body, writeRequestFrame(frame, 0, streamId, body.length));
  return frame;
}

// What requestFrameSize measured, for the writeRequestFrame that follows it.
let sizedRoute: Buffer = Buffer.alloc(0);
let sizedMetadata: Buffer = NO_BLOCK;
let sizedHeader = 0;
let sizedTimeout = 0;
let sizedAttempt = 0;

/**
 * The size of a REQUEST frame, checked against the receiver's `limits` (throws FrameLimitError, so
 * nothing the peer would refuse is ever written). `writeRequestFrame` must follow at once: it writes
 * what this measured (the unary path encodes in place into the connection's write slab).
 */
export function requestFrameSize(header: RequestHeader, bodyLength: number, limits: FrameLimits = ENCODABLE_LIMITS): number {
  const route = routeBytes(header.group, header.service, header.version, header.method);
  const timeoutMs = uint32(header.timeoutMs);
  const attempt = uint32(header.attempt);
  const entries = header.metadata === undefined ? 0 : header.metadata.size;
  if (entries > limits.maxMetadataEntries) throw new FrameLimitError('maxMetadataEntries', entries, limits.maxMetadataEntries, 'request metadata');
  const metadata = requestMetadataBlock(header.metadata);
  const headerSize =
    route.length +
    1 + varintSize(timeoutMs) +
    1 + varintSize(attempt) +
    metadata.length;
  if (headerSize > limits.maxHeaderSize || bodyLength > limits.maxBodySize) {
    if (headerSize > limits.maxHeaderSize) throw new FrameLimitError('maxHeaderSize', headerSize, limits.maxHeaderSize, 'request header (method and metadata)');
    throw new FrameLimitError('maxBodySize', bodyLength, limits.maxBodySize, 'request body');
  }
  sizedRoute = route;
  sizedMetadata = metadata;
  sizedHeader = headerSize;
  sizedTimeout = timeoutMs;
  sizedAttempt = attempt;
  return FIXED_HEADER_SIZE + headerSize + bodyLength;
}

/**
 * Writes the frame `requestFrameSize` just measured at `target[at…]`, all but the body: returns
 * the offset where its `bodyLength` bytes go (the caller copies or encodes them there).
 */
export function writeRequestFrame(target: Buffer, at: number, streamId: number, bodyLength: number): number {
  writeFixedHeaderAt(target, at, FrameType.REQUEST, streamId, sizedHeader, bodyLength);
  let offset = copyBytes(sizedRoute, target, at + FIXED_HEADER_SIZE);
  offset = writeVarintField(target, offset, 5, sizedTimeout);
  offset = writeVarintField(target, offset, 6, sizedAttempt);
  return copyBytes(sizedMetadata, target, offset);
}

/**
 * Copies a route prefix or a metadata block with `TypedArray#set`: a V8 builtin (a memmove, no call
 * into C++ as `Buffer#copy` makes), about 17 ns for any usual length, where a byte loop took about
 * 1.2 ns a byte (45–65 ns for a 34-byte route or a 47-byte credential block; session 10). A few bytes
 * are still cheaper in the loop.
 */
function copyBytes(bytes: Buffer, target: Buffer, at: number): number {
  const length = bytes.length;
  if (length > 8) {
    target.set(bytes, at);
    return at + length;
  }
  for (let i = 0; i < length; i++) target[at + i] = bytes[i]!;
  return at + length;
}

/** The frame header fields at `at` (writeFixedHeader writes at 0). */
function writeFixedHeaderAt(target: Buffer, at: number, type: FrameType, streamId: number, headerLength: number, bodyLength: number): void {
  target[at] = MAGIC_0;
  target[at + 1] = MAGIC_1;
  target[at + 2] = PROTOCOL_VERSION;
  target[at + 3] = type;
  target[at + 4] = 0;
  target[at + 5] = 0;
  target[at + 6] = headerLength >>> 8;
  target[at + 7] = headerLength & 0xff;
  target.writeUInt32BE(streamId, at + 8);
  target.writeUInt32BE(bodyLength, at + 12);
}

/**
 * The size of an OK RESPONSE frame with no trailers (a 2-byte header, `08 00`) carrying `body`, or
 * -1 when the answer needs `fitResponseFrame` (trailers, or a body over the client's limit).
 */
export function plainResponseSize(limits: FrameLimits, metadata: Metadata | undefined, bodyLength: number): number {
  if ((metadata !== undefined && metadata.size !== 0) || bodyLength > limits.maxBodySize) return -1;
  return PLAIN_RESPONSE_PREFIX + bodyLength;
}

/** The bytes before the body of an OK RESPONSE frame with no trailers. */
export const PLAIN_RESPONSE_PREFIX = FIXED_HEADER_SIZE + 2;

/**
 * Writes the frame `plainResponseSize` measured at `target[at…]`, all but its `bodyLength` bytes of
 * body, which go at `at + PLAIN_RESPONSE_PREFIX` (copied, or encoded there in place).
 */
export function writePlainResponseHeader(target: Buffer, at: number, streamId: number, bodyLength: number): void {
  writeFixedHeaderAt(target, at, FrameType.RESPONSE, streamId, 2, bodyLength);
  target[at + FIXED_HEADER_SIZE] = 8;
  target[at + FIXED_HEADER_SIZE + 1] = 0;
}

/**
 * Encodes a RESPONSE, GOAWAY or CANCEL-with-reason frame; an OK response with no trailers has a
 * 2-byte header. Throws FrameLimitError past what the format can carry: answers to a peer go through
 * fitResponseFrame, which never throws.
 */
export function encodeResponseFrame(
  type: FrameType.RESPONSE | FrameType.GOAWAY | FrameType.CANCEL,
  streamId: number,
  code: number,
  message: string,
  notExecuted: boolean,
  metadata: Metadata | undefined,
  body: Uint8Array | undefined,
  version = PROTOCOL_VERSION,
): Buffer {
  resetScratch();
  const messageLength = message === '' ? 0 : Buffer.byteLength(message);
  const headerSize = responseHeaderSize(code, messageLength, notExecuted, metadataSize(metadata, scratch));
  if (headerSize > MAX_HEADER_LENGTH) throw new FrameLimitError('maxHeaderSize', headerSize, MAX_HEADER_LENGTH, 'response header (message and trailers)');
  return writeResponseFrame(type, streamId, code, message, messageLength, notExecuted, metadata, body, headerSize, version);
}

function responseHeaderSize(code: number, messageLength: number, notExecuted: boolean, trailerBytes: number): number {
  return 1 + varintSize(code) + (messageLength > 0 ? stringFieldSize(2, messageLength) : 0) + (notExecuted ? 2 : 0) + trailerBytes;
}

/** Writes a response-shaped frame whose sizes are known (`scratch` holds the trailers' lengths). */
function writeResponseFrame(
  type: FrameType, streamId: number, code: number, message: string, messageLength: number, notExecuted: boolean,
  metadata: Metadata | undefined, body: Uint8Array | undefined, headerSize: number, version: number,
): Buffer {
  const bodyLength = body?.length ?? 0;
  const frame = Buffer.allocUnsafe(FIXED_HEADER_SIZE + headerSize + bodyLength);
  writeFixedHeader(frame, type, streamId, headerSize, bodyLength, version);
  let offset = writeVarintField(frame, FIXED_HEADER_SIZE, 1, code);
  if (messageLength > 0) offset = writeStringField(frame, offset, 2, message, messageLength);
  if (notExecuted) offset = writeVarintField(frame, offset, 3, 1);
  offset = writeMetadata(frame, offset, metadata, scratch);
  if (body) frame.set(body, offset);
  return frame;
}

/** Trailer added when trailers had to be dropped to fit the peer's limits. */
export const TRUNCATED_TRAILERS_KEY = 'trellis-trailers-truncated';

/** Room kept for the truncation marker trailer. */
const MARKER_ROOM = 160;

/**
 * A RESPONSE (or GOAWAY) frame that fits the receiver's limits, whatever the handler produced: a
 * body over maxBodySize becomes RESOURCE_EXHAUSTED (the handler ran); an error message and trailers
 * over maxHeaderSize / maxMetadataEntries are cut with a marker. Never throws: an answer that cannot
 * be written would leave the caller waiting until its deadline.
 */
export function fitResponseFrame(
  limits: FrameLimits,
  type: FrameType.RESPONSE | FrameType.GOAWAY,
  streamId: number,
  code: number,
  message: string,
  notExecuted: boolean,
  metadata: Metadata | undefined,
  body: Uint8Array | undefined,
): Buffer {
  if (body !== undefined && body.length > limits.maxBodySize) {
    message = `the response of ${body.length} bytes exceeds the client's limit of ${limits.maxBodySize} (maxBodySize); the handler ran`;
    code = Code.RESOURCE_EXHAUSTED;
    notExecuted = false;
    body = undefined;
  }
  resetScratch();
  const entries = metadata === undefined ? 0 : metadata.size;
  const messageLength = message === '' ? 0 : Buffer.byteLength(message);
  const trailerBytes = metadataSize(metadata, scratch);
  const headerSize = responseHeaderSize(code, messageLength, notExecuted, trailerBytes);
  if (headerSize <= limits.maxHeaderSize && entries <= limits.maxMetadataEntries) {
    return writeResponseFrame(type, streamId, code, message, messageLength, notExecuted, metadata, body, headerSize, PROTOCOL_VERSION);
  }
  // Cut: the message keeps at least half the room (it says what went wrong), trailers fill the rest.
  const fixed = 1 + varintSize(code) + (notExecuted ? 2 : 0);
  const room = Math.max(0, limits.maxHeaderSize - fixed - MARKER_ROOM);
  const messageRoom = Math.max(room >> 1, room - trailerBytes);
  const messageBytes = messageLength > 0 ? stringFieldSize(2, messageLength) : 0;
  const fittedMessage = messageBytes > messageRoom ? truncateUtf8(message, messageLength, messageRoom - 8, limits.maxHeaderSize) : message;
  let left = room - (fittedMessage === '' ? 0 : stringFieldSize(2, Buffer.byteLength(fittedMessage)));
  let fitted: Metadata | undefined;
  if (metadata !== undefined && entries > 0) {
    fitted = new Map();
    const maxKept = Math.max(0, limits.maxMetadataEntries - 1);
    for (const [key, value] of metadata) {
      const size = entrySize(key, value);
      if (fitted.size >= maxKept || size > left) break;
      fitted.set(key, value);
      left -= size;
    }
    if (fitted.size < entries && limits.maxMetadataEntries > 0) {
      fitted.set(TRUNCATED_TRAILERS_KEY, `${entries - fitted.size} of ${entries} trailers dropped: over the client's maxHeaderSize (${limits.maxHeaderSize}) or maxMetadataEntries (${limits.maxMetadataEntries})`);
    }
  }
  return encodeResponseFrame(type, streamId, code, fittedMessage, notExecuted, fitted, body);
}

function entrySize(key: string, value: string): number {
  const entry = stringFieldSize(1, Buffer.byteLength(key)) + stringFieldSize(2, Buffer.byteLength(value));
  return varintSize(METADATA_FIELD << 3) + varintSize(entry) + entry;
}

/** The first ≤ `room` UTF-8 bytes of `text` (cut at a character boundary) and a marker saying so. */
function truncateUtf8(text: string, byteLength: number, room: number, limit: number): string {
  const marker = ` … [message truncated from ${byteLength} bytes to fit the client's maxHeaderSize of ${limit}]`;
  const keep = Math.max(0, room - Buffer.byteLength(marker));
  const bytes = Buffer.from(text, 'utf8');
  let end = Math.min(keep, bytes.length);
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.toString('utf8', 0, end) + marker;
}

function readEntry(reader: WireReader, metadata: Metadata): void {
  const length = reader.varint();
  const end = reader.pos + length;
  if (end > reader.end) throw new WireError('length-delimited field runs past the header');
  // The same reader, narrowed to the entry (a throw abandons the whole header, so no restore then).
  const outer = reader.end;
  reader.end = end;
  let key = '';
  let value = '';
  while (!reader.done) {
    const tag = reader.varint();
    if (tag === 10) key = reader.string();
    else if (tag === 18) value = reader.string();
    else reader.skip(tag & 7);
  }
  reader.end = outer;
  metadata.set(key, value);
}

/**
 * What a connection decoded last, for the next request header. Clients write the route fields first
 * and byte-identically for every call of a method, so a byte comparison usually replaces four string
 * decodes; and they write the same metadata entries call after call (a credential), last, so the
 * entries are taken from the previous request when the header's tail from its first entry on is
 * byte-identical to that request's — the decode of the same bytes — instead of decoding strings.
 */
export interface HeaderMemo {
  bytes: Buffer | undefined;
  /** `bytes` as wordsOf makes them: what `routeMatches` compares. */
  words: Int32Array;
  service: string;
  method: string;
  group: string;
  version: string;
  /** The header tail that held only metadata entries, as received (up to MAX_REMEMBERED_BLOCK bytes). */
  metadataBytes: Buffer | undefined;
  /** `metadataBytes` read 4 bytes at a time (little-endian; a tail of 1–3 bytes is left out): what `blockMatches` compares. */
  metadataWords: Int32Array;
  /**
   * What those bytes decoded to: one read-only Map handed to every request whose tail is the same
   * bytes (as `receivedMetadata`), so such a request costs no Map of its own until a handler asks
   * for a mutable one (the server copies it then).
   */
  metadata: ReadonlyMap<string, string> | undefined;
  /** Blocks in a row that did not match: past a few, entries that change per call are remembered only now and then. */
  metadataMisses: number;
}

export function createHeaderMemo(): HeaderMemo {
  return { bytes: undefined, words: NO_WORDS, service: '', method: '', group: '', version: '', metadataBytes: undefined, metadataWords: NO_WORDS, metadata: undefined, metadataMisses: 0 };
}

/** The longest metadata block a connection remembers: a credential and a few more entries. */
const MAX_REMEMBERED_BLOCK = 1024;

export function decodeRequestHeader(buf: Buffer, start: number, end: number, memo?: HeaderMemo, maxMetadataEntries = 64): RequestHeader {
  const header = { metadata: undefined as unknown as Metadata, receivedMetadata: undefined } as DecodedRequestHeader;
  decodeRequestHeaderInto(header, buf, start, end, memo, maxMetadataEntries);
  // A header of its own: the entries as a Map of its own (a stream's handler may change them).
  header.metadata ??= header.receivedMetadata === undefined ? new Map() : new Map(header.receivedMetadata);
  header.receivedMetadata = undefined;
  return header;
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * What decodeRequestHeaderInto writes: the header's fields, and its metadata either as a Map of its
 * own (`metadata`) or, when the entries are byte for byte the previous request's on the connection,
 * as the memo's shared read-only Map (`receivedMetadata`; `metadata` is then left unset). Never both.
 */
export type DecodedRequestHeader = Writable<RequestHeader> & { receivedMetadata: ReadonlyMap<string, string> | undefined };

/** One reader for every request header (decoding is synchronous and never nested): no object per request. */
const headerReader = new WireReader(Buffer.alloc(0), 0, 0);

/**
 * `buf[start, start + route.length)` equals `route` (`words`: wordsOf(route)): a JS loop, not
 * `Buffer#compare` (a native call for a ~30-byte route). Four bytes at a time as for the metadata
 * block; the route is no secret, but a mismatch is rare (another method) and the one loop serves both.
 */
function routeMatches(buf: Buffer, start: number, end: number, route: Buffer, words: Int32Array): boolean {
  return end - start >= route.length && differenceFrom(buf, start, route, words) === 0;
}

const NO_WORDS = new Int32Array(0);

/** `block` as little-endian 32-bit words, its last `length % 4` bytes left out (blockMatches reads them one by one). */
function wordsOf(block: Buffer): Int32Array {
  const words = new Int32Array(block.length >> 2);
  for (let k = 0; k < words.length; k++) words[k] = block.readInt32LE(k * 4);
  return words;
}

/**
 * `buf[start, end)` equals `block` (`words`: wordsOf(block)). Every byte is compared, whatever
 * differs: the block may hold another caller's credential (a proxy multiplexing callers onto one
 * connection), and an early exit would tell by timing how much of it a guess got right. Only the
 * lengths, which the frame tells anyway, end it early.
 */
function blockMatches(buf: Buffer, start: number, end: number, block: Buffer, words: Int32Array): boolean {
  return end - start === block.length && differenceFrom(buf, start, block, words) === 0;
}

/**
 * 0 when `buf[at, at + block.length)` equals `block`, else not 0; every byte is read and nothing
 * ends the loop early (constant time for a given length). Four request bytes at a time against one
 * kept word: about half the time of a byte loop for a 47-byte credential block
 * (bench/block-compare-cost.js: 57 → 33 ns). The request bytes are assembled by hand, not read
 * through an Int32Array or a DataView: the block sits at any offset of the socket's chunk, and a view
 * of the chunk would cost an object per chunk (and keep the chunk alive).
 */
function differenceFrom(buf: Buffer, at: number, block: Buffer, words: Int32Array): number {
  let difference = 0;
  const count = words.length;
  let p = at;
  for (let k = 0; k < count; k++, p += 4) {
    difference |= (buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24)) ^ words[k]!;
  }
  for (let i = count * 4; i < block.length; i++) difference |= buf[at + i]! ^ block[i]!;
  return difference;
}

/**
 * The memo's shared entries: read-only, since every request with the same block reads this one Map
 * (a write would change what other calls in flight see). It refuses writes as NO_METADATA does.
 */
class ReceivedMetadata extends Map<string, string> {
  private sealed = false;

  constructor(entries: Metadata) {
    super(entries);
    this.sealed = true;
  }

  override set(key: string, value: string): this {
    if (this.sealed) throw new TypeError(`cannot set metadata "${key}" on the received metadata (read-only, shared between requests): use invocation.metadata`);
    return super.set(key, value);
  }

  override delete(key: string): boolean {
    throw new TypeError(`cannot delete metadata "${key}" from the received metadata (read-only, shared between requests): use invocation.metadata`);
  }

  override clear(): void {
    throw new TypeError('cannot clear the received metadata (read-only, shared between requests): use invocation.metadata');
  }
}

/** One of a memo's shared read-only Maps (a request's own Map is not). */
export function isReceivedMetadata(metadata: ReadonlyMap<string, string>): boolean {
  return metadata instanceof ReceivedMetadata;
}

/**
 * decodeRequestHeader into an object the caller has anyway (the server's per-request exchange).
 * `target.metadata` is set only when the header carries entries the memo does not hold (no Map per
 * request otherwise): the target starts with it unset and creates one when somebody asks — from
 * `target.receivedMetadata`, the memo's shared read-only entries, when that was set instead.
 */
export function decodeRequestHeaderInto(target: DecodedRequestHeader, buf: Buffer, start: number, end: number, memo?: HeaderMemo, maxMetadataEntries = 64): void {
  const reader = headerReader.reset(buf, start, end);
  let service = '';
  let method = '';
  let group = '';
  let version = '';
  const cached = memo?.bytes;
  const hit = cached !== undefined && routeMatches(buf, start, end, cached, memo!.words);
  if (hit) {
    ({ service, method, group, version } = memo!);
    reader.pos = start + cached.length;
  }
  let timeoutMs = 0;
  let attempt = 1;
  let metadata: Metadata | undefined;
  let received: ReadonlyMap<string, string> | undefined;
  // Where the first metadata entry starts, and whether only entries followed it (a block to remember).
  let blockStart = -1;
  let onlyEntries = true;
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
        if (blockStart < 0) {
          blockStart = reader.pos - 1;
          const remembered = memo?.metadataBytes;
          if (remembered !== undefined && blockMatches(buf, blockStart, end, remembered, memo!.metadataWords)) {
            // The same bytes as the last request's entries-only tail: the same entries, shared.
            received = memo!.metadata;
            memo!.metadataMisses = 0;
            reader.pos = end;
            blockStart = -2;
            break;
          }
        }
        readEntry(reader, (metadata ??= new Map()));
        if (metadata.size > maxMetadataEntries) throw new WireError(`more than ${maxMetadataEntries} metadata entries (maxMetadataEntries)`, 'maxMetadataEntries');
        break;
      default: reader.skip(tag & 7);
    }
    if (tag !== 58 && blockStart >= 0) onlyEntries = false;
  }
  reader.buf = EMPTY_BUFFER; // the shared reader must not keep the chunk alive (after a malformed header it does until the next one)
  if (service === '' || method === '') throw new WireError('request header names no service or method');
  if (memo !== undefined) {
    if (!hit) rememberRoute(memo, buf, start, end, { service, method, group, version });
    if (blockStart >= 0 && onlyEntries && end - blockStart <= MAX_REMEMBERED_BLOCK) {
      const misses = memo.metadataMisses++;
      if (misses < 8 || misses % 64 === 0) rememberMetadata(memo, buf, blockStart, end, metadata!);
    }
  }
  target.group = group;
  target.service = service;
  target.version = version;
  target.method = method;
  target.timeoutMs = timeoutMs;
  target.attempt = attempt;
  if (metadata !== undefined) target.metadata = metadata;
  else if (received !== undefined) target.receivedMetadata = received;
}

const EMPTY_BUFFER = Buffer.alloc(0);

/** Stores the route prefix (fields 1–4 in order) of a header; headers written otherwise are not cached. */
function rememberRoute(memo: HeaderMemo, buf: Buffer, start: number, end: number, route: { service: string; method: string; group: string; version: string }): void {
  const reader = new WireReader(buf, start, end);
  for (const expectedTag of [10, 18, 26, 34]) {
    if (reader.done || reader.varint() !== expectedTag) return;
    reader.bytes();
  }
  const bytes = Buffer.from(buf.subarray(start, reader.pos));
  memo.bytes = bytes;
  memo.words = wordsOf(bytes);
  memo.service = route.service;
  memo.method = route.method;
  memo.group = route.group;
  memo.version = route.version;
}

/**
 * Stores a header's entries-only tail (a copy: the chunk is not kept) and what it decoded to (a
 * read-only copy: the request's own Map is its handler's to change).
 */
function rememberMetadata(memo: HeaderMemo, buf: Buffer, start: number, end: number, metadata: Metadata): void {
  const block = Buffer.from(buf.subarray(start, end));
  memo.metadataBytes = block;
  memo.metadataWords = wordsOf(block);
  memo.metadata = new ReceivedMetadata(metadata);
}

const EMPTY_METADATA: ReadonlyMap<string, string> = new Map();

const OK_HEADER: ResponseHeader = { code: 0, message: '', notExecuted: false, metadata: EMPTY_METADATA };

export function decodeResponseHeader(buf: Buffer, start: number, end: number, maxMetadataEntries = Infinity): ResponseHeader {
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
      case 58:
        readEntry(reader, (metadata ??= new Map()));
        if (metadata.size > maxMetadataEntries) throw new WireError(`more than ${maxMetadataEntries} trailers (maxMetadataEntries)`, 'maxMetadataEntries');
        break;
      default: reader.skip(tag & 7);
    }
  }
  return { code, message, notExecuted, metadata: metadata ?? EMPTY_METADATA };
}
