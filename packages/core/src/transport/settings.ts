import { DEFAULT_FRAME_LIMITS, FIXED_HEADER_SIZE, FrameType, MAX_HEADER_LENGTH, MAX_WINDOW, MIN_HEADER_SIZE_LIMIT, writeFixedHeader, type FrameLimits } from './frame.js';
import { varintSize, WireError, WireReader, writeVarintField } from './proto-wire.js';

/**
 * What one side of a connection accepts, announced in its SETTINGS frame — the first frame in each
 * direction. The other side checks every frame it writes against these, so a call that would break
 * a limit fails alone, before anything is sent, instead of taking the connection down.
 *
 *   message Settings {
 *     uint32 max_header_size        = 1;  // absent: 16,384 (1,024..65,535)
 *     uint32 max_body_size          = 2;  // absent: 4 MiB (1..2^32-1)
 *     uint32 max_metadata_entries   = 3;  // absent: 64
 *     uint32 max_concurrent_streams = 4;  // absent: 1000 (≥ 1); calls this side runs at once per connection
 *     uint32 capabilities           = 5;  // feature bits (CAPABILITY_*); unknown bits ignored
 *     uint32 stream_window          = 6;  // absent: 65,536; receive credit each stream starts with (bytes)
 *     uint32 max_open_streams       = 7;  // absent: 1000 (≥ 1); streams this side accepts open per connection
 *   }
 *
 * Unknown fields are skipped: later features (streaming's flow-control windows) add fields without a
 * version change, and a peer that does not send them has the feature off.
 */
export interface Settings extends FrameLimits {
  readonly maxConcurrentStreams: number;
  readonly capabilities: number;
  /** Bytes of stream messages the sender may send on each new stream before credit comes back. */
  readonly streamWindow: number;
  /** Streams the sender accepts open at once on the connection (it opens none itself if a client). */
  readonly maxOpenStreams: number;
}

/** The peer carries streams (STREAM_* and WINDOW_UPDATE frames); without it, opens fail UNIMPLEMENTED. */
export const CAPABILITY_STREAMS = 1;

export const DEFAULT_MAX_CONCURRENT_STREAMS = 1000;
export const DEFAULT_STREAM_WINDOW = 64 * 1024;
export const MIN_STREAM_WINDOW = 1024;
export const DEFAULT_MAX_OPEN_STREAMS = 1000;

export const DEFAULT_SETTINGS: Settings = {
  ...DEFAULT_FRAME_LIMITS,
  maxConcurrentStreams: DEFAULT_MAX_CONCURRENT_STREAMS,
  capabilities: 0,
  streamWindow: DEFAULT_STREAM_WINDOW,
  maxOpenStreams: DEFAULT_MAX_OPEN_STREAMS,
};

const FIELDS = [
  [1, 'maxHeaderSize'],
  [2, 'maxBodySize'],
  [3, 'maxMetadataEntries'],
  [4, 'maxConcurrentStreams'],
  [5, 'capabilities'],
  [6, 'streamWindow'],
  [7, 'maxOpenStreams'],
] as const;

/** A SETTINGS frame (stream 0, empty body) announcing every field, defaults included. */
export function encodeSettingsFrame(settings: Settings): Buffer {
  let size = 0;
  for (const [, name] of FIELDS) size += 1 + varintSize(settings[name]);
  const frame = Buffer.allocUnsafe(FIXED_HEADER_SIZE + size);
  writeFixedHeader(frame, FrameType.SETTINGS, 0, size, 0);
  let offset = FIXED_HEADER_SIZE;
  for (const [field, name] of FIELDS) offset = writeVarintField(frame, offset, field, settings[name]);
  return frame;
}

/** Decodes and checks a SETTINGS header; throws WireError saying which value is unacceptable. */
export function decodeSettings(buf: Buffer, start: number, end: number): Settings {
  const reader = new WireReader(buf, start, end);
  const values: number[] = FIELDS.map(([, name]) => DEFAULT_SETTINGS[name]);
  while (!reader.done) {
    const tag = reader.varint();
    const index = FIELDS.findIndex(([number]) => tag === number << 3);
    if (index < 0) reader.skip(tag & 7);
    else values[index] = reader.varint();
  }
  // A fresh literal: every call reads these limits, so the object keeps one fixed shape.
  const settings: Settings = {
    maxHeaderSize: values[0]!,
    maxBodySize: values[1]!,
    maxMetadataEntries: values[2]!,
    maxConcurrentStreams: values[3]!,
    capabilities: values[4]!,
    streamWindow: values[5]!,
    maxOpenStreams: values[6]!,
  };
  if (settings.maxHeaderSize < MIN_HEADER_SIZE_LIMIT || settings.maxHeaderSize > MAX_HEADER_LENGTH) {
    throw new WireError(`SETTINGS max_header_size ${settings.maxHeaderSize} is outside ${MIN_HEADER_SIZE_LIMIT}..${MAX_HEADER_LENGTH}`);
  }
  // 0 is refused as max_header_size below its floor is, with the same error: the sender's own option
  // (limits.maxBodySize) starts at 1, so no conforming peer announces 0, and a peer taking no body
  // could receive no message but an empty one — every other call would fail at its first send.
  if (settings.maxBodySize < 1) throw new WireError(`SETTINGS max_body_size ${settings.maxBodySize} is outside 1..${0xffffffff}`);
  if (settings.maxConcurrentStreams < 1) throw new WireError('SETTINGS max_concurrent_streams 0: the peer would accept no call');
  if (settings.streamWindow < MIN_STREAM_WINDOW || settings.streamWindow > MAX_WINDOW) {
    throw new WireError(`SETTINGS stream_window ${settings.streamWindow} is outside ${MIN_STREAM_WINDOW}..${MAX_WINDOW}`);
  }
  if (settings.maxOpenStreams < 1) throw new WireError('SETTINGS max_open_streams 0 (absent means 1000)');
  return settings;
}
