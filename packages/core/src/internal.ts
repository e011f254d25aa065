/**
 * Internals for tools that must reach below the public API — the protocol fuzzer and benchmarks.
 * Unstable: anything here may change in any release. Applications and plugins must not use it.
 */
export { FrameDecoder, type FrameSink } from './transport/frame-decoder.js';
export { FrameType, FIXED_HEADER_SIZE, DEFAULT_FRAME_LIMITS, PROTOCOL_VERSION, encodeBareFrame, type FrameLimits } from './transport/frame.js';
export { encodeSettingsFrame, decodeSettings, DEFAULT_SETTINGS, CAPABILITY_STREAMS, type Settings } from './transport/settings.js';
export {
  encodeStreamOpenFrame, encodeStreamMessageFrame, encodeHalfCloseFrame, encodeWindowUpdateFrame, encodeStreamCancelFrame,
} from './transport/stream-frames.js';
export {
  encodeRequestFrame, encodeResponseFrame, decodeRequestHeader, decodeResponseHeader, createHeaderMemo,
  type RequestHeader, type ResponseHeader,
} from './transport/header-codec.js';
export { ServerConnection, type ServerConnectionOptions } from './transport/server-connection.js';
export { WireError } from './transport/proto-wire.js';
