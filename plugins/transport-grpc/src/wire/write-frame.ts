import type { RpcError } from '@trellis/core';

const RESOLVED = Promise.resolve();

/** Whoever writes: what a write waiting for drain fails with when the stream closes first. */
export interface FrameWriter {
  streamClosedError(): RpcError;
}

/**
 * The part of a stream `writeFrame` uses. node:http2's Http2Stream (the client's, and the server's
 * under the node:http2 engine) and the engine's own stream (src/h2/stream.ts) both have it.
 */
export interface FrameStream {
  write(chunk: Buffer): boolean;
  once(event: 'drain' | 'close', listener: () => void): unknown;
  off(event: 'drain' | 'close', listener: () => void): unknown;
}

/**
 * Writes one frame to an HTTP/2 stream, both sides' one "write or wait for drain": resolves at once
 * while the stream's buffer has room (no promise per message on the fast path), otherwise when it
 * drains, so a producer awaiting it follows the peer's flow control; rejects with the writer's
 * `streamClosedError()` if the stream closes first.
 */
export function writeFrame(stream: FrameStream, frame: Buffer, writer: FrameWriter): Promise<void> {
  if (stream.write(frame)) return RESOLVED;
  return new Promise((resolve, reject) => {
    const onDrain = () => {
      stream.off('close', onClose);
      resolve();
    };
    const onClose = () => {
      stream.off('drain', onDrain);
      reject(writer.streamClosedError());
    };
    stream.once('drain', onDrain);
    stream.once('close', onClose);
  });
}
