import { connect, type Socket } from 'node:net';

/**
 * Hand-built HTTP/2 frames (RFC 9113 §4.1), for sending what no well-behaved client would:
 * node:http2's client refuses to write malformed HEADERS, floods or lying lengths, so the HTTP/2
 * target writes frames on a plain TCP socket. One writer for every raw HTTP/2 peer: the fuzzer's
 * HTTP/2 target (apps/fuzz) and transport-grpc's engine tests (a hand-written server or attacker).
 */
export const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const FrameType = { DATA: 0, HEADERS: 1, PRIORITY: 2, RST_STREAM: 3, SETTINGS: 4, PUSH_PROMISE: 5, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
export const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;

export interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

export function frame(type: number, flags: number, streamId: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const out = Buffer.alloc(9 + payload.length);
  out.writeUIntBE(payload.length, 0, 3);
  out[3] = type;
  out[4] = flags;
  out.writeUInt32BE(streamId & 0x7fffffff, 5);
  out.set(payload, 9);
  return out;
}

/** HPACK "literal header field without indexing, new name" for each pair (no Huffman). */
export function literalHeaders(headers: readonly (readonly [string, string])[]): Buffer {
  const parts: Buffer[] = [];
  const length = (n: number) => {
    if (n < 127) return Buffer.from([n]);
    const bytes = [127];
    n -= 127;
    while (n >= 128) {
      bytes.push((n & 0x7f) | 0x80);
      n >>= 7;
    }
    bytes.push(n);
    return Buffer.from(bytes);
  };
  for (const [name, value] of headers) {
    parts.push(Buffer.from([0x00]), length(name.length), Buffer.from(name, 'latin1'), length(Buffer.byteLength(value)), Buffer.from(value));
  }
  return Buffer.concat(parts);
}

/** The header block of a well-formed gRPC request (h2c). */
export function grpcRequestHeaders(path: string, port: number, extra: readonly (readonly [string, string])[] = []): Buffer {
  return literalHeaders([
    [':method', 'POST'], [':scheme', 'http'], [':path', path], [':authority', `127.0.0.1:${port}`],
    ['content-type', 'application/grpc'], ['te', 'trailers'], ...extra,
  ]);
}

/** A gRPC length-prefixed message: compressed flag, 4-byte big-endian length, the bytes. */
export function grpcMessage(message: Uint8Array, compressed = false): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out[0] = compressed ? 1 : 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/** Splits received bytes into whole frames (a partial last frame is left out). */
export function parseFrames(bytes: Buffer): Frame[] {
  const frames: Frame[] = [];
  let offset = 0;
  while (offset + 9 <= bytes.length) {
    const length = bytes.readUIntBE(offset, 3);
    if (offset + 9 + length > bytes.length) break;
    frames.push({ type: bytes[offset + 3]!, flags: bytes[offset + 4]!, streamId: bytes.readUInt32BE(offset + 5) & 0x7fffffff, payload: bytes.subarray(offset + 9, offset + 9 + length) });
    offset += 9 + length;
  }
  return frames;
}

export interface RawHttp2ConnectionOptions {
  /**
   * Acknowledge the server's SETTINGS frames, as every real client does (default true). false: a
   * peer that never does, which a server ends with GOAWAY SETTINGS_TIMEOUT (RFC 9113 §6.5.3).
   */
  readonly ackSettings?: boolean;
}

/**
 * A raw client connection that has sent the preface and an empty SETTINGS frame, and acknowledges
 * the server's SETTINGS (unless told not to). `until` resolves when what the server sent satisfies a
 * condition or the server closed the connection — on the socket's own events, no polling — and
 * rejects after `timeoutMs` (a hang is a finding).
 */
export class RawHttp2Connection {
  private readonly received: Buffer[] = [];
  private closed = false;
  /** Received bytes not yet scanned for SETTINGS (a frame split across chunks waits here). */
  private unscanned: Buffer = Buffer.alloc(0);
  private readonly waiters = new Set<() => void>();

  private constructor(private readonly socket: Socket, options: RawHttp2ConnectionOptions) {
    socket.on('data', (chunk: Buffer) => {
      this.received.push(chunk);
      if (options.ackSettings !== false) this.ackSettings(chunk);
      this.notify();
    });
    socket.on('error', () => undefined); // a reset is one of the answers we wait for
    socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
  }

  static open(port: number, options: RawHttp2ConnectionOptions = {}): Promise<RawHttp2Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        socket.write(Buffer.concat([HTTP2_PREFACE, frame(FrameType.SETTINGS, 0, 0)]));
        resolve(new RawHttp2Connection(socket, options));
      });
    });
  }

  write(bytes: Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** Every whole frame the server sent so far (its SETTINGS first). */
  frames(): Frame[] {
    return parseFrames(Buffer.concat(this.received));
  }

  until(condition: (frames: Frame[]) => boolean, timeoutMs: number, what: string): Promise<{ frames: Frame[]; closed: boolean }> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const frames = this.frames();
        if (!this.closed && !condition(frames)) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve({ frames, closed: this.closed });
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`the server neither answered nor closed within ${timeoutMs} ms: ${what}`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  private ackSettings(chunk: Buffer): void {
    let bytes: Buffer = this.unscanned.length === 0 ? chunk : Buffer.concat([this.unscanned, chunk]);
    while (bytes.length >= 9 && bytes.length >= 9 + bytes.readUIntBE(0, 3)) {
      if (bytes[3] === FrameType.SETTINGS && (bytes[4]! & Flag.ACK) === 0) this.write(frame(FrameType.SETTINGS, Flag.ACK, 0));
      bytes = bytes.subarray(9 + bytes.readUIntBE(0, 3));
    }
    this.unscanned = bytes;
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

export const hasGoAway = (frames: readonly Frame[]): boolean => frames.some((f) => f.type === FrameType.GOAWAY);

/** The server ended stream `id`: trailers (HEADERS with END_STREAM) or RST_STREAM. */
export const streamEnded = (id: number) => (frames: readonly Frame[]): boolean =>
  frames.some((f) => f.streamId === id && ((f.type === FrameType.HEADERS && (f.flags & Flag.END_STREAM) !== 0) || f.type === FrameType.RST_STREAM));
