import { connect, type Socket } from 'node:net';
import {
  DEFAULT_SETTINGS, encodeRequestFrame, encodeSettingsFrame, FIXED_HEADER_SIZE, FrameType, decodeResponseHeader,
} from '@trellis/core/internal';
import { loadEchoService } from './echo-service.js';

/**
 * The attacker's side of a connection (fuzzer and chaos suite): a raw socket that speaks just enough
 * of the protocol to get past the SETTINGS handshake, then does what a hostile or broken peer does.
 * It parses what comes back only as far as frame types and GOAWAY reasons, holding at most one frame.
 */
export class RawPeer {
  goAway: { code: number; message: string } | undefined;
  pongs = 0;
  responses = 0;
  /** The status code of each RESPONSE, in arrival order. */
  readonly responseCodes: number[] = [];
  readonly closed: Promise<void>;
  /** Resolves when a GOAWAY arrives. */
  readonly told: Promise<void>;
  private onGoAway: () => void = () => {};
  private chunks: Buffer[] = [];
  private buffered = 0;

  private constructor(readonly socket: Socket, private readonly onSettings: () => void) {
    socket.on('error', () => { /* a reset is one way to be closed */ });
    socket.on('data', (chunk: Buffer) => this.parse(chunk));
    this.closed = new Promise((resolve) => socket.on('close', () => resolve()));
    this.told = new Promise((resolve) => (this.onGoAway = resolve));
  }

  /** Connects and completes the SETTINGS exchange (unless `handshake` is false). */
  static async connect(port: number, handshake = true): Promise<RawPeer> {
    let settled: () => void = () => {};
    const gotSettings = new Promise<void>((resolve) => (settled = resolve));
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => resolve(s));
      s.once('error', reject);
    });
    const peer = new RawPeer(socket, () => settled());
    if (handshake) {
      socket.write(encodeSettingsFrame(DEFAULT_SETTINGS));
      await Promise.race([gotSettings, peer.closed]);
    }
    return peer;
  }

  /** Stops reading: what the server sends piles up on its side (and in the kernel). */
  stopReading(): void {
    this.socket.pause();
  }

  write(bytes: Buffer): boolean {
    return !this.socket.destroyed && this.socket.write(bytes);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private parse(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (this.buffered >= FIXED_HEADER_SIZE) {
      if (this.chunks[0]!.length < FIXED_HEADER_SIZE) this.chunks = [Buffer.concat(this.chunks)];
      const head = this.chunks[0]!;
      const headerLength = head.readUInt16BE(6);
      const end = FIXED_HEADER_SIZE + headerLength + head.readUInt32BE(12);
      if (this.buffered < end) return;
      const all = this.chunks.length === 1 ? head : Buffer.concat(this.chunks);
      const type = all[3];
      if (type === FrameType.SETTINGS) this.onSettings();
      else if (type === FrameType.PONG) this.pongs++;
      else if (type === FrameType.RESPONSE) {
        this.responses++;
        this.responseCodes.push(decodeResponseHeader(all, FIXED_HEADER_SIZE, FIXED_HEADER_SIZE + headerLength).code);
      }
      else if (type === FrameType.GOAWAY) {
        this.goAway = decodeResponseHeader(all, FIXED_HEADER_SIZE, FIXED_HEADER_SIZE + headerLength);
        this.onGoAway();
      }
      this.chunks = all.length > end ? [all.subarray(end)] : [];
      this.buffered -= end;
    }
  }
}

/** An EchoService request frame whose message has `messageBytes` bytes. */
export function echoFrame(streamId: number, messageBytes: number, extra: { delayMs?: number } = {}): Buffer {
  const codec = loadEchoService().methods.Echo!.requestCodec;
  const body = Buffer.from(codec.encode({ message: 'm'.repeat(messageBytes), delayMs: extra.delayMs ?? 0 }));
  return encodeRequestFrame(streamId, { group: 'default', service: 'trellis.test.EchoService', version: '', method: 'Echo', timeoutMs: 30_000, attempt: 1, metadata: new Map() }, body);
}
