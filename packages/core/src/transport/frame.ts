/**
 * The fixed 16-byte frame header of the default transport (docs/protocol.md has the byte layout):
 *
 *   0  magic 'T' 'R'   2  version   3  type   4  flags   5  reserved
 *   6  header length (uint16 BE)    8  stream id (uint32 BE)   12  body length (uint32 BE)
 *
 * Lengths are known before a byte of the payload is buffered, so limits are enforced up front.
 */
export const MAGIC_0 = 0x54; // 'T'
export const MAGIC_1 = 0x52; // 'R'
/**
 * Version 2 added the SETTINGS handshake (each side announces its limits before anything else), so
 * that senders can check every frame against the receiver's limits. A version-1 peer is refused with
 * a GOAWAY it can read (written with its own version byte): docs/protocol.md, "Versions".
 */
export const PROTOCOL_VERSION = 2;
export const FIXED_HEADER_SIZE = 16;
/** The header length field is 16 bits. */
export const MAX_HEADER_LENGTH = 0xffff;
/** Stream ids are 31-bit; 0 is the connection itself. */
export const MAX_STREAM_ID = 0x7fffffff;
/** PING and PONG carry exactly this many opaque bytes. */
export const PING_BODY_SIZE = 8;

export const enum FrameType {
  REQUEST = 1,
  RESPONSE = 2,
  PING = 3,
  PONG = 4,
  GOAWAY = 5,
  /** Client → server: stop this call. An optional ResponseHeader says why (a per-stream reset). */
  CANCEL = 6,
  /** The first frame in each direction: the sender's limits (settings.ts). */
  SETTINGS = 7,
  // Streams (issue #18; stream-frames.ts). Sent only to a peer whose SETTINGS has CAPABILITY_STREAMS.
  /** Client → server: opens a stream. RequestHeader; the flags byte is the StreamKind code; no body. */
  STREAM_OPEN = 8,
  /** Either way: one message of an open stream. Empty header; the body is the message. */
  STREAM_MESSAGE = 9,
  /** Client → server: no more messages from the client. Empty. */
  STREAM_HALF_CLOSE = 10,
  /** Server → client: the response headers (a ResponseHeader with code 0). No body. */
  STREAM_HEADERS = 11,
  /** Server → client: the stream's status and trailers (a ResponseHeader); ends the stream. No body. */
  STREAM_TRAILERS = 12,
  /** Either way: returns receive credit for a stream. Empty header; a 4-byte body (uint32 increment). */
  WINDOW_UPDATE = 13,
}

export const MAX_FRAME_TYPE = FrameType.WINDOW_UPDATE;

export const FRAME_TYPE_NAMES: readonly string[] = [
  '0', 'REQUEST', 'RESPONSE', 'PING', 'PONG', 'GOAWAY', 'CANCEL', 'SETTINGS',
  'STREAM_OPEN', 'STREAM_MESSAGE', 'STREAM_HALF_CLOSE', 'STREAM_HEADERS', 'STREAM_TRAILERS', 'WINDOW_UPDATE',
];

/** The body of a WINDOW_UPDATE. */
export const WINDOW_UPDATE_BODY_SIZE = 4;
/** Stream windows are 31-bit, like HTTP/2's: credit that would pass this is a protocol error. */
export const MAX_WINDOW = 0x7fffffff;

export interface FrameLimits {
  /** Largest body accepted (default 4 MiB). */
  readonly maxBodySize: number;
  /** Largest protobuf header (method + metadata) accepted (default 16 KiB; 1,024..65,535). */
  readonly maxHeaderSize: number;
  /** Most metadata entries one header may carry (default 64). */
  readonly maxMetadataEntries: number;
}

export const DEFAULT_FRAME_LIMITS: FrameLimits = { maxBodySize: 4 * 1024 * 1024, maxHeaderSize: 16 * 1024, maxMetadataEntries: 64 };

/**
 * The smallest maxHeaderSize a peer may announce: room for a status code, the not-executed flag and
 * a truncated error message, so a server can always say why a call failed.
 */
export const MIN_HEADER_SIZE_LIMIT = 1024;

export function writeFixedHeader(
  target: Buffer,
  type: FrameType,
  streamId: number,
  headerLength: number,
  bodyLength: number,
  version = PROTOCOL_VERSION,
): void {
  target[0] = MAGIC_0;
  target[1] = MAGIC_1;
  target[2] = version;
  target[3] = type;
  target[4] = 0;
  target[5] = 0;
  target.writeUInt16BE(headerLength, 6);
  target.writeUInt32BE(streamId, 8);
  target.writeUInt32BE(bodyLength, 12);
}

/** A frame with an empty header and the given body (PING, PONG, CANCEL). */
export function encodeBareFrame(type: FrameType, streamId: number, body?: Uint8Array): Buffer {
  const length = body?.length ?? 0;
  const frame = Buffer.allocUnsafe(FIXED_HEADER_SIZE + length);
  writeFixedHeader(frame, type, streamId, 0, length);
  if (body) frame.set(body, FIXED_HEADER_SIZE);
  return frame;
}
