import type { Socket } from 'node:net';

/** What a connection speaks, from its first bytes. */
export type DetectedProtocol = 'http2' | 'trellis' | 'unknown';

/** The HTTP/2 client connection preface (RFC 9113 §3.4), which gRPC clients send first (h2c prior knowledge). */
export const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** The first two bytes of every Trellis frame (docs/protocol.md). */
export const TRELLIS_MAGIC = Buffer.from('TR', 'latin1');

/** Classifies the bytes seen so far; undefined while they are a prefix of both candidates' starts. */
export function classify(head: Buffer): DetectedProtocol | undefined {
  if (head.length === 0) return undefined;
  if (head[0] === TRELLIS_MAGIC[0]) {
    if (head.length < 2) return undefined;
    return head[1] === TRELLIS_MAGIC[1] ? 'trellis' : 'unknown';
  }
  const n = Math.min(head.length, HTTP2_PREFACE.length);
  if (head.compare(HTTP2_PREFACE, 0, n, 0, n) !== 0) return 'unknown';
  return n === HTTP2_PREFACE.length ? 'http2' : undefined;
}

/**
 * Peeks at a freshly accepted socket until its first bytes tell the protocol (the whole 24-byte
 * HTTP/2 preface, or Trellis's 2-byte magic), then puts those bytes back (`unshift`) and pauses the
 * socket, so whichever server takes it over reads the connection from its first byte — e.g.
 * `grpcServer.handleConnection(socket)`. Resolves 'unknown' for anything else, for a socket that
 * closes first, and after `timeoutMs` of silence.
 */
export function detectProtocol(socket: Socket, timeoutMs = 10_000): Promise<DetectedProtocol> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const finish = (result: DetectedProtocol) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
      if (length > 0) socket.unshift(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length));
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      const head = chunks.length === 1 ? chunk : Buffer.concat(chunks, length);
      const result = classify(head);
      if (result !== undefined) finish(result);
    };
    const onClose = () => finish('unknown');
    const timer = setTimeout(() => finish('unknown'), timeoutMs);
    timer.unref();
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}
