import { h2, loadEchoService } from '@trellis/testkit';

const { Flag, frame, FrameType, grpcMessage, grpcRequestHeaders } = h2;

/** HTTP/2's default SETTINGS_MAX_FRAME_SIZE, which the gRPC server keeps. */
const MAX_FRAME_SIZE = 16_384;

/**
 * Mutated gRPC exchanges: each input is what a gRPC client writes after the preface — HEADERS and
 * DATA for 1–3 calls, now and then a WINDOW_UPDATE, PING or PRIORITY — with a few frames broken the
 * ways a hostile or buggy peer breaks them: bit flips, lengths that lie, wrong types, flags and stream
 * ids, garbage HPACK, bad gRPC length prefixes and compressed flags, frames dropped or repeated.
 */
export class GrpcFrameMutator {
  private readonly request: Buffer;
  private readonly paths = ['/trellis.test.EchoService/Echo', '/trellis.test.EchoService/Mutate', '/trellis.test.EchoService/Nope', '/no.Such/Echo', '/', 'garbage'];

  constructor(private readonly random: () => number, private readonly port: number) {
    const echo = loadEchoService().methods.Echo!;
    this.request = Buffer.from(echo.requestCodec.encode({ message: 'hello fuzz', id: '42', values: [1, 2, 3] }));
  }

  next(): Buffer {
    const frames: Buffer[] = [];
    const calls = 1 + this.int(3);
    for (let i = 0, id = 1; i < calls; i++, id += 2) {
      const path = this.random() < 0.7 ? this.paths[0]! : this.paths[this.int(this.paths.length)]!;
      const extra: [string, string][] = this.random() < 0.2 ? [['grpc-timeout', `${this.int(100)}m`]] : this.random() < 0.1 ? [['grpc-encoding', 'gzip']] : [];
      frames.push(frame(FrameType.HEADERS, Flag.END_HEADERS, id, grpcRequestHeaders(path, this.port, extra)));
      frames.push(frame(FrameType.DATA, Flag.END_STREAM, id, grpcMessage(this.request)));
      if (this.random() < 0.15) frames.push(frame(FrameType.WINDOW_UPDATE, 0, this.random() < 0.5 ? 0 : id, this.uint32(1 + this.int(1 << 20))));
      if (this.random() < 0.1) frames.push(frame(FrameType.PING, 0, 0, this.bytes(8)));
      if (this.random() < 0.1) frames.push(frame(FrameType.PRIORITY, 0, id, this.bytes(5)));
    }
    for (let n = 1 + this.int(3); n > 0 && frames.length > 0; n--) {
      const at = this.int(frames.length);
      frames.splice(at, 1, ...this.mutate(frames[at]!));
    }
    return Buffer.concat(frames);
  }

  /**
   * Zeros appended until `input` parses as whole frames: a frame whose length lied or that was cut
   * short leaves the server waiting, rightly, for the rest of it, and whatever is sent next (a PING)
   * would be read as its payload. A length past SETTINGS_MAX_FRAME_SIZE (16 KiB) needs nothing: the
   * server refuses it at once.
   */
  static completeFrames(input: Buffer): Buffer {
    let offset = 0;
    for (;;) {
      const left = input.length - offset;
      if (left === 0) return input;
      if (left < 9) {
        input = Buffer.concat([input, Buffer.alloc(9 - left)]); // the header first, then its payload
        continue;
      }
      const length = input.readUIntBE(offset, 3);
      if (length > MAX_FRAME_SIZE) return input;
      if (left < 9 + length) return Buffer.concat([input, Buffer.alloc(9 + length - left)]);
      offset += 9 + length;
    }
  }

  private mutate(original: Buffer): Buffer[] {
    const f = Buffer.from(original);
    // A frame already cut short by an earlier mutation has no header left to aim at.
    if (f.length < 9) return [f];
    switch (this.int(11)) {
      case 0: // bit flips anywhere, frame header included
        for (let n = 1 + this.int(4); n > 0; n--) f[this.int(f.length)]! ^= 1 << this.int(8);
        return [f];
      case 1: // the length field lies (longer or shorter than the payload)
        f.writeUIntBE(this.random() < 0.5 ? this.int(64) : this.int(1 << 24), 0, 3);
        return [f];
      case 2: // another frame type, known or not
        f[3] = this.random() < 0.7 ? this.int(10) : 10 + this.int(246);
        return [f];
      case 3: // random flags (PADDED and PRIORITY without their fields, END_STREAM early…)
        f[4] = this.int(256);
        return [f];
      case 4: // stream 0, an even (server-initiated) id, a reused id, a huge one
        f.writeUInt32BE([0, 2, 1, 0x7fffffff, this.int(0x80000000)][this.int(5)]!, 5);
        return [f];
      case 5: { // garbage in the payload (HPACK bytes for HEADERS, the message for DATA)
        for (let i = 9; i < f.length; i++) if (this.random() < 0.2) f[i] = this.int(256);
        return [f];
      }
      case 6: // a gRPC prefix that lies: compressed flag, a length past the data or the limit
        if (f[3] === FrameType.DATA && f.length >= 14) {
          f[9] = this.int(4);
          f.writeUInt32BE(this.random() < 0.5 ? this.int(64) : Math.floor(this.random() * 0xffffffff), 10);
        }
        return [f];
      case 7: // truncated: the rest of the stream of bytes is read as the next frame
        return [f.subarray(0, this.int(f.length))];
      case 8: // dropped: DATA on an idle stream, a call with no body
        return [];
      case 9: // repeated: HEADERS twice, DATA after END_STREAM
        return [f, Buffer.from(f)];
      default: // an HPACK index far past the tables, or a literal with a huge length
        return f[3] === FrameType.HEADERS ? [frame(FrameType.HEADERS, f[4]!, f.readUInt32BE(5), Buffer.from(this.random() < 0.5 ? [0xff, 0xff, 0x7f] : [0x00, 0x7f, 0xff, 0xff, 0xff, 0x0f]))] : [f];
    }
  }

  private int(n: number): number {
    return Math.floor(this.random() * n);
  }

  private bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }

  private uint32(value: number): Buffer {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(value >>> 0);
    return out;
  }
}
