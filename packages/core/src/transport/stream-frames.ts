import { Code } from '../errors.js';
import type { Metadata } from '../metadata.js';
import type { MessageWriter, StreamKind } from '../transport-stream.js';
import { encodeBareFrame, FIXED_HEADER_SIZE, FrameType, MAGIC_0, MAGIC_1, PROTOCOL_VERSION, WINDOW_UPDATE_BODY_SIZE, writeFixedHeader, type FrameLimits } from './frame.js';
import type { WriteBatcher } from './write-batcher.js';
import { encodeRequestFrame, encodeResponseFrame, fitResponseFrame, type RequestHeader } from './header-codec.js';

/**
 * Encoders of the stream frames (docs/protocol.md, "Streams"). The open is a REQUEST-shaped frame
 * (same RequestHeader, so the route cache and the server's header decoder serve both) whose flags
 * byte carries the stream kind; messages carry no header at all, so a stream message costs 16 bytes
 * of framing.
 */
const KIND_CODES: Readonly<Record<StreamKind, number>> = { 'server-streaming': 1, 'client-streaming': 2, 'bidi-streaming': 3 };
const KINDS: readonly (StreamKind | undefined)[] = [undefined, 'server-streaming', 'client-streaming', 'bidi-streaming'];

/** Byte 4 of the fixed header (the flags byte) of a STREAM_OPEN. */
export const FLAGS_OFFSET = 4;

export function streamKindCode(kind: StreamKind): number {
  return KIND_CODES[kind];
}

/** The kind a STREAM_OPEN's flags byte names; undefined for a code no version defines. */
export function streamKindOf(code: number): StreamKind | undefined {
  return KINDS[code];
}

/** Checked against the server's limits like a REQUEST: throws FrameLimitError, nothing written. */
export function encodeStreamOpenFrame(streamId: number, header: RequestHeader, kind: StreamKind, limits: FrameLimits): Buffer {
  const frame = encodeRequestFrame(streamId, header, EMPTY, limits);
  frame[3] = FrameType.STREAM_OPEN;
  frame[FLAGS_OFFSET] = KIND_CODES[kind];
  return frame;
}

const EMPTY = new Uint8Array(0);

/** One message: the fixed header and the body, copied into one buffer (the caller may reuse its body). */
export function encodeStreamMessageFrame(streamId: number, body: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(FIXED_HEADER_SIZE + body.length);
  writeFixedHeader(frame, FrameType.STREAM_MESSAGE, streamId, 0, body.length);
  frame.set(body, FIXED_HEADER_SIZE);
  return frame;
}

/**
 * One message written in place into the connection's batch (no buffer per frame; see
 * WriteBatcher.reserve): the stream bench's server sends hundreds per tick.
 */
export function writeStreamMessageFrame(batcher: WriteBatcher, streamId: number, body: Uint8Array): void {
  const start = reserveMessageFrame(batcher, streamId, body.length);
  batcher.slab.set(body, start);
}

/**
 * One message of `length` bytes encoded by `encoder` straight into the connection's batch (no body
 * buffer at all). A codec must not throw here for a message its encodedLength accepted; if one does,
 * the frame is already framed, so its body goes out zero-filled (the client's decode refuses it)
 * and the error reaches the caller, which fails the stream.
 */
export function writeEncodedMessageFrame(batcher: WriteBatcher, streamId: number, length: number, encoder: MessageWriter, message: unknown): void {
  const start = reserveMessageFrame(batcher, streamId, length);
  const target = batcher.slab;
  let end: number;
  try {
    end = encoder.encodeInto(message, target, start);
  } catch (error) {
    target.fill(0, start, start + length);
    throw error;
  }
  if (end !== start + length) {
    target.fill(0, start, start + length);
    throw new Error(`the codec wrote ${end - start} bytes of a message it measured at ${length}`);
  }
}

/** Reserves a STREAM_MESSAGE frame in the batch's slab and writes its header; returns where its body goes. */
function reserveMessageFrame(batcher: WriteBatcher, streamId: number, length: number): number {
  const at = batcher.reserve(FIXED_HEADER_SIZE + length); // (before reading `slab`: reserving may start a new one)
  const target = batcher.slab;
  target[at] = MAGIC_0;
  target[at + 1] = MAGIC_1;
  target[at + 2] = PROTOCOL_VERSION;
  target[at + 3] = FrameType.STREAM_MESSAGE;
  target[at + 4] = 0;
  target[at + 5] = 0;
  target[at + 6] = 0;
  target[at + 7] = 0;
  // Byte stores, not writeUInt32BE: no range checks per message (both values are in range here).
  target[at + 8] = streamId >>> 24;
  target[at + 9] = streamId >>> 16;
  target[at + 10] = streamId >>> 8;
  target[at + 11] = streamId;
  target[at + 12] = length >>> 24;
  target[at + 13] = length >>> 16;
  target[at + 14] = length >>> 8;
  target[at + 15] = length;
  return at + FIXED_HEADER_SIZE;
}

export function encodeWindowUpdateFrame(streamId: number, increment: number): Buffer {
  const frame = Buffer.allocUnsafe(FIXED_HEADER_SIZE + WINDOW_UPDATE_BODY_SIZE);
  writeFixedHeader(frame, FrameType.WINDOW_UPDATE, streamId, 0, WINDOW_UPDATE_BODY_SIZE);
  frame.writeUInt32BE(increment, FIXED_HEADER_SIZE);
  return frame;
}

export function encodeHalfCloseFrame(streamId: number): Buffer {
  return encodeBareFrame(FrameType.STREAM_HALF_CLOSE, streamId);
}

/**
 * STREAM_HEADERS or STREAM_TRAILERS fitted to the client's limits (an over-long message or too many
 * trailers are cut with a marker, as for unary answers); never throws.
 */
export function fitStreamStatusFrame(
  limits: FrameLimits,
  type: FrameType.STREAM_HEADERS | FrameType.STREAM_TRAILERS,
  streamId: number,
  code: number,
  message: string,
  notExecuted: boolean,
  metadata: Metadata | undefined,
): Buffer {
  let frame: Buffer;
  try {
    frame = fitResponseFrame(limits, FrameType.RESPONSE, streamId, code, message, notExecuted, metadata, undefined);
  } catch (error) {
    // E.g. a trailer value that is not a string: the client still gets a status, and why.
    const why = String((error as Error)?.message ?? error).slice(0, 200);
    frame = encodeResponseFrame(FrameType.RESPONSE, streamId, Code.INTERNAL, `the server could not encode the stream's ${type === FrameType.STREAM_HEADERS ? 'headers' : 'status'}: ${why}`, notExecuted, undefined, undefined);
  }
  frame[3] = type;
  return frame;
}

/** A client's per-stream reset: CANCEL with a ResponseHeader saying why. */
export function encodeStreamCancelFrame(streamId: number, code: number, message: string): Buffer {
  return encodeResponseFrame(FrameType.CANCEL, streamId, code, message.slice(0, 512), false, undefined, undefined);
}
