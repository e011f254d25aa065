import {
  CAPABILITY_STREAMS, DEFAULT_FRAME_LIMITS, DEFAULT_SETTINGS, encodeBareFrame, encodeHalfCloseFrame, encodeRequestFrame, encodeResponseFrame,
  encodeSettingsFrame, encodeStreamMessageFrame, encodeStreamOpenFrame, encodeWindowUpdateFrame, FrameType,
} from '@trellis/core/internal';
import { loadEchoService } from '@trellis/testkit';

/**
 * Builds fuzz inputs: well-formed frames (the seeds) mutated in the ways hostile or broken peers send
 * them — bit flips, truncation, lengths that lie, bad magic and types, garbage protobuf, several frames
 * interleaved on one stream — plus plain random bytes. Most inputs open with a SETTINGS frame (mutated
 * sometimes), as a client must, so that the request path behind the handshake is reached.
 */
export class Mutator {
  private readonly seeds: Buffer[];
  private readonly settings = encodeSettingsFrame({ ...DEFAULT_SETTINGS, capabilities: CAPABILITY_STREAMS });
  private nextStream = 1;

  constructor(private readonly random: () => number) {
    const echo = loadEchoService().methods.Echo!;
    const body = Buffer.from(echo.requestCodec.encode({ message: 'hello fuzz', id: '42', values: [1, 2, 3] }));
    const request = (method: string, service = 'trellis.test.EchoService', metadata = new Map<string, string>(), payload: Buffer = body) =>
      encodeRequestFrame(1, { group: 'default', service, version: '', method, timeoutMs: 1000, attempt: 1, metadata }, payload);
    const streamOpen = (kind: 'server-streaming' | 'client-streaming' | 'bidi-streaming', method = 'Echo') =>
      encodeStreamOpenFrame(1, { group: 'default', service: 'trellis.test.EchoService', version: '', method, timeoutMs: 1000, attempt: 1, metadata: new Map() }, kind, DEFAULT_FRAME_LIMITS);
    this.seeds = [
      request('Echo'),
      request('Mutate', undefined, new Map([['x-user', '7'], ['traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01']])),
      request('Nope'),
      request('Echo', 'no.Such'),
      request('Echo', undefined, undefined, Buffer.alloc(0)),
      encodeBareFrame(FrameType.PING, 0, Buffer.alloc(8, 1)),
      encodeBareFrame(FrameType.CANCEL, 1),
      encodeResponseFrame(FrameType.CANCEL, 1, 1, 'a reason', false, undefined, undefined),
      encodeBareFrame(FrameType.PONG, 0, Buffer.alloc(8)),
      // Over the limits the in-memory server announces (64 KiB bodies): refused per call and skipped.
      request('Echo', undefined, undefined, Buffer.alloc(70 * 1024, 0x0a)),
      request('Echo', undefined, new Map(Array.from({ length: 70 }, (_, i) => [`k${i}`, 'v'] as [string, string]))),
      // Streams (issue #18): opens of each kind, messages, half-closes, credit — and the bad ones a
      // hostile peer sends: a message for a stream never opened, a window update past 2^31-1, a
      // half-close twice, a message over the limits. Ids are rewritten below, so most land on
      // streams that are not open and some (id 1) on the one that is.
      streamOpen('bidi-streaming'),
      streamOpen('server-streaming'),
      streamOpen('client-streaming', 'Nope'),
      Buffer.concat([streamOpen('bidi-streaming'), encodeStreamMessageFrame(1, body), encodeHalfCloseFrame(1), encodeHalfCloseFrame(1)]),
      Buffer.concat([streamOpen('bidi-streaming'), encodeWindowUpdateFrame(1, 0x7fffffff), encodeWindowUpdateFrame(1, 1)]),
      Buffer.concat([streamOpen('client-streaming'), encodeHalfCloseFrame(1), encodeStreamMessageFrame(1, body)]),
      encodeStreamMessageFrame(1, body),
      encodeStreamMessageFrame(1, Buffer.alloc(70 * 1024, 0x0a)),
      encodeWindowUpdateFrame(1, 1000),
      encodeHalfCloseFrame(1),
    ];
  }

  /** One input: SETTINGS (usually) and 1–4 frames (mutated or not), or random bytes. */
  next(): Buffer {
    if (this.random() < 0.05) return this.randomBytes(1 + this.int(300));
    const parts: Buffer[] = [];
    const opening = this.random();
    if (opening < 0.85) parts.push(this.settings);
    else if (opening < 0.95) parts.push(this.mutate(Buffer.from(this.settings)));
    const frames = 1 + this.int(4);
    for (let i = 0; i < frames; i++) {
      const frame = Buffer.from(this.seeds[this.int(this.seeds.length)]!);
      const connectionFrame = frame[3] === FrameType.PING || frame[3] === FrameType.PONG;
      // Reused ids interleave streams; connection frames keep stream 0 (mostly).
      if (!connectionFrame || this.random() < 0.1) frame.writeUInt32BE(this.random() < 0.3 ? 1 : this.nextStream++ & 0x7fffffff, 8);
      parts.push(this.random() < 0.6 ? this.mutate(frame) : frame);
    }
    return Buffer.concat(parts);
  }

  private mutate(frame: Buffer): Buffer {
    switch (this.int(9)) {
      case 0: { // bit flips anywhere
        for (let n = 1 + this.int(4); n > 0; n--) frame[this.int(frame.length)]! ^= 1 << this.int(8);
        return frame;
      }
      case 1: // truncation
        return frame.subarray(0, this.int(frame.length));
      case 2: // header length lies
        frame.writeUInt16BE(this.int(65536), 6);
        return frame;
      case 3: // body length lies (up to 4 GiB)
        frame.writeUInt32BE(this.random() < 0.5 ? this.int(64) : Math.floor(this.random() * 0xffffffff), 12);
        return frame;
      case 4: // bad magic / version / type
        frame[this.int(4)] = this.int(256);
        return frame;
      case 5: { // garbage protobuf in the header or the body
        const headerLength = frame.readUInt16BE(6);
        const start = 16 + (this.random() < 0.5 ? 0 : headerLength);
        for (let i = start; i < frame.length; i++) if (this.random() < 0.3) frame[i] = this.int(256);
        return frame;
      }
      case 6: // extra bytes appended (a partial next frame)
        return Buffer.concat([frame, this.randomBytes(this.int(40))]);
      case 7: { // a huge varint or length inside the header
        if (frame.length > 20) frame.fill(0xff, 16, Math.min(frame.length, 16 + 1 + this.int(12)));
        return frame;
      }
      default: // byte replaced with an interesting value
        frame[this.int(frame.length)] = [0, 0x7f, 0x80, 0xff][this.int(4)]!;
        return frame;
    }
  }

  private int(n: number): number {
    return Math.floor(this.random() * n);
  }

  private randomBytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}
