import type { Http2Stream } from 'node:http2';
import type { RpcError } from '@trellis/core';

const RESOLVED = Promise.resolve();

/** Whoever writes: what a write waiting for drain fails with when the stream closes first. */
export interface FrameWriter {
  streamClosedError(): RpcError;
}

/**
 * Writes one frame to an HTTP/2 stream, both sides' one "write or wait for drain": resolves at once
 * while the stream's buffer has room (no promise per message on the fast path), otherwise when it
 * drains, so a producer awaiting it follows the peer's flow control; rejects with the writer's
 * `streamClosedError()` if the stream closes first.
 */
export function writeFrame(stream: Http2Stream, frame: Buffer, writer: FrameWriter): Promise<void> {
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
