import { decodeResponseHeader, decodeSettings, FIXED_HEADER_SIZE, FrameType, PROTOCOL_VERSION } from '@trellis/core/internal';

/**
 * What the server wrote must itself be valid protocol: whole frames, right magic and version (an older
 * one only for the GOAWAY that refuses an older client), only types a server sends, SETTINGS first and
 * once, headers that decode. Returns a description of the first violation.
 */
export interface OutputTally {
  responses: number;
  errors: Record<string, number>;
  goaways: number;
  pongs: number;
  /** STREAM_TRAILERS by status code (streams opened, and the per-stream protocol errors). */
  streamStatuses: Record<string, number>;
}

export function createTally(): OutputTally {
  return { responses: 0, errors: {}, goaways: 0, pongs: 0, streamStatuses: {} };
}

/** What a server may write: answers, connection frames and the server's stream frames. */
const SERVER_FRAME_TYPES = new Set<number>([
  FrameType.RESPONSE, FrameType.PONG, FrameType.GOAWAY, FrameType.SETTINGS,
  FrameType.STREAM_HEADERS, FrameType.STREAM_MESSAGE, FrameType.STREAM_TRAILERS, FrameType.WINDOW_UPDATE,
]);

export function checkServerOutput(chunks: readonly Buffer[], tally?: OutputTally): string | undefined {
  const out = Buffer.concat(chunks);
  let offset = 0;
  while (offset < out.length) {
    if (out.length - offset < FIXED_HEADER_SIZE) return `server wrote a partial frame header at byte ${offset}`;
    const type = out[offset + 3]!;
    const versionOk = out[offset + 2] === PROTOCOL_VERSION || (type === FrameType.GOAWAY && out[offset + 2]! < PROTOCOL_VERSION);
    if (out[offset] !== 0x54 || out[offset + 1] !== 0x52 || !versionOk) return `server wrote a frame with bad magic/version at byte ${offset}`;
    if (!SERVER_FRAME_TYPES.has(type)) return `server wrote frame type ${type}`;
    if (type === FrameType.SETTINGS && offset !== 0) return 'server wrote SETTINGS after another frame';
    if (type !== FrameType.SETTINGS && type !== FrameType.GOAWAY && out[3] !== FrameType.SETTINGS) return `server wrote frame type ${type} before its SETTINGS`;
    const headerLength = out.readUInt16BE(offset + 6);
    const bodyLength = out.readUInt32BE(offset + 12);
    const end = offset + FIXED_HEADER_SIZE + headerLength + bodyLength;
    if (end > out.length) return `server wrote a truncated frame at byte ${offset}`;
    if (type === FrameType.PONG && tally) tally.pongs++;
    if (type === FrameType.WINDOW_UPDATE && (headerLength !== 0 || bodyLength !== 4 || out.readUInt32BE(offset + FIXED_HEADER_SIZE) === 0)) {
      return `server wrote a bad WINDOW_UPDATE at byte ${offset}`;
    }
    if (type === FrameType.SETTINGS) {
      try {
        decodeSettings(out, offset + FIXED_HEADER_SIZE, offset + FIXED_HEADER_SIZE + headerLength);
      } catch (error) {
        return `server wrote undecodable SETTINGS: ${(error as Error).message}`;
      }
    } else if (type === FrameType.STREAM_MESSAGE || type === FrameType.WINDOW_UPDATE) {
      if (type === FrameType.STREAM_MESSAGE && headerLength !== 0) return `server wrote a STREAM_MESSAGE with a header at byte ${offset}`;
    } else if (type !== FrameType.PONG) {
      try {
        const header = decodeResponseHeader(out, offset + FIXED_HEADER_SIZE, offset + FIXED_HEADER_SIZE + headerLength);
        if (tally && type === FrameType.GOAWAY) tally.goaways++;
        if (tally && type === FrameType.STREAM_TRAILERS) tally.streamStatuses[header.code] = (tally.streamStatuses[header.code] ?? 0) + 1;
        if (tally && type === FrameType.RESPONSE) {
          tally.responses++;
          tally.errors[header.code] = (tally.errors[header.code] ?? 0) + 1;
        }
      } catch (error) {
        return `server wrote an undecodable response header: ${(error as Error).message}`;
      }
    }
    offset = end;
  }
  return undefined;
}
