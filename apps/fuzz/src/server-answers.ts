import { decodeResponseHeader, decodeSettings, DEFAULT_SETTINGS, FIXED_HEADER_SIZE, FrameType, type Settings } from '@trellis/core/internal';

/** One RESPONSE the server wrote. */
export interface Answer {
  readonly code: number;
  readonly message: string;
  /** Bytes of the protobuf response header (message and trailers): must fit the client's limit. */
  readonly headerLength: number;
}

/**
 * The RESPONSE frames in what the server wrote, by stream id. Call it on output that passed
 * checkServerOutput (whole frames, headers that decode).
 */
export function serverAnswers(chunks: readonly Buffer[]): Map<number, Answer> {
  const out = Buffer.concat(chunks);
  const answers = new Map<number, Answer>();
  for (let offset = 0; offset + FIXED_HEADER_SIZE <= out.length;) {
    const headerLength = out.readUInt16BE(offset + 6);
    const start = offset + FIXED_HEADER_SIZE;
    if (out[offset + 3] === FrameType.RESPONSE) {
      const { code, message } = decodeResponseHeader(out, start, start + headerLength);
      answers.set(out.readUInt32BE(offset + 8), { code, message, headerLength });
    }
    offset = start + headerLength + out.readUInt32BE(offset + 12);
  }
  return answers;
}

/** The limits a client input announces in its opening SETTINGS frame (defaults if it has none). */
export function announcedSettings(input: Buffer): Settings {
  if (input.length < FIXED_HEADER_SIZE || input[3] !== FrameType.SETTINGS) return DEFAULT_SETTINGS;
  const end = FIXED_HEADER_SIZE + input.readUInt16BE(6);
  try {
    return end <= input.length ? decodeSettings(input, FIXED_HEADER_SIZE, end) : DEFAULT_SETTINGS;
  } catch {
    return DEFAULT_SETTINGS;
  }
}
