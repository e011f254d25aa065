import { connect, createServer, type Socket } from 'node:net';
import * as protobuf from 'protobufjs';
import { BENCH_PROTO, type EchoRequest } from '../payload.js';
import type { BenchCaller, CallSlot, Kind } from './kind.js';

/**
 * The limit any framework on Node could reach on this machine: a bare `net` socket, protobufjs
 * `encode()`/`decode()` and nothing else.
 *
 * - Frame: `[varint stream id][varint body length][body]` — the least a multiplexed unary protocol
 *   needs (which call, how long). Each frame is encoded straight into the connection's protobufjs
 *   Writer (`uint32(id)` + `encodeDelimited`), so there is no Buffer per frame and no concat: the
 *   frames of one tick become one Buffer and one `socket.write()`.
 * - Reads: one protobufjs Reader per chunk; every frame is decoded in place (`decode(reader, length)`),
 *   no subarray per frame; a frame cut by the chunk boundary waits for the next chunk.
 * - Backpressure: when `write()` returns false the connection stops flushing until 'drain'; the
 *   server also stops reading requests until its answers have drained.
 * - The same decoding work as every other kind: both sides decode every field of every message into
 *   an object (the server re-encodes the decoded request; it never echoes the bytes). What it leaves
 *   out is conversion: no `fromObject`/`toObject`, int64 stays a protobufjs Long, and the reader does
 *   not re-check string bounds (see codec-cost.ts for what those cost per call).
 * - Call ids come from a free list and index an array of waiting calls: no Map, no allocation.
 */
const echoType = (): protobuf.Type => protobuf.loadSync(BENCH_PROTO).lookupType('bench.EchoRequest');

/** A frame longer than this is a protocol error (the echo is ~130 bytes). */
const MAX_BODY = 1 << 20;

/** Frames written during one tick leave in one `socket.write()`, unless the socket is backed up. */
class FrameWriter {
  private readonly writer = protobuf.Writer.create();
  private scheduled = false;
  /** `write()` returned false: hold frames until 'drain'. */
  blocked = false;
  private readonly flushBound = (): void => this.flush();

  constructor(private readonly socket: Socket, onDrain?: () => void) {
    socket.on('drain', () => {
      this.blocked = false;
      onDrain?.();
      this.flush();
    });
  }

  frame(id: number, type: protobuf.Type, message: object): void {
    this.writer.uint32(id);
    type.encodeDelimited(message, this.writer);
    if (!this.scheduled && !this.blocked) {
      this.scheduled = true;
      process.nextTick(this.flushBound);
    }
  }

  private flush(): void {
    this.scheduled = false;
    if (this.blocked || this.writer.len === 0 || this.socket.destroyed) return;
    const data = this.writer.finish();
    // finish() does not empty a protobufjs Writer; reset() does (no fork is open between frames).
    this.writer.reset();
    if (!this.socket.write(data)) this.blocked = true;
  }
}

/** One varint of at most 5 bytes at `buf[pos]`: the value, or -1 if the chunk ends first. */
let varintEnd = 0;
function readVarint(buf: Buffer, pos: number): number {
  let value = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (pos === buf.length) return -1;
    const byte = buf[pos++]!;
    value |= (byte & 0x7f) << shift;
    if (byte < 0x80) {
      varintEnd = pos;
      return value >>> 0;
    }
  }
  throw new Error('tight-raw: varint longer than 5 bytes');
}

type OnFrame = (id: number, reader: protobuf.Reader, length: number) => void;

/** Splits a byte stream into frames; `onFrame` decodes the body from the reader in place. */
class FrameReader {
  private pending: Buffer | undefined;

  constructor(private readonly onFrame: OnFrame) {}

  push(chunk: Buffer): void {
    const buf = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    this.pending = undefined;
    let reader: protobuf.Reader | undefined;
    let pos = 0;
    while (pos < buf.length) {
      const id = readVarint(buf, pos);
      if (id < 0) break;
      const length = readVarint(buf, varintEnd);
      if (length < 0) break;
      if (length > MAX_BODY) throw new Error(`tight-raw: frame of ${length} bytes`);
      const start = varintEnd;
      const end = start + length;
      if (end > buf.length) break;
      reader ??= protobuf.Reader.create(buf);
      reader.pos = start;
      this.onFrame(id, reader, length);
      if (reader.pos !== end) throw new Error(`tight-raw: body of frame ${id} ran ${reader.pos - end} bytes past its length`);
      pos = end;
    }
    if (pos < buf.length) this.pending = buf.subarray(pos);
  }
}

async function listen(type: protobuf.Type) {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    const writer = new FrameWriter(socket, () => socket.resume());
    const reader = new FrameReader((id, r, length) => writer.frame(id, type, type.decode(r, length)));
    socket.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch (error) {
        socket.destroy(error as Error);
        return;
      }
      // Answers backed up in the socket: read no more requests until they drain.
      if (writer.blocked) socket.pause();
    });
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    }),
  };
}

async function dial(type: protobuf.Type, port: number, connections: number): Promise<BenchCaller> {
  const waiting: (CallSlot | undefined)[] = [];
  const freeIds: number[] = [];
  let nextId = 0;
  let closedReason: Error | undefined;
  const failAll = (error: Error) => {
    closedReason ??= error;
    for (let id = 0; id < waiting.length; id++) {
      const slot = waiting[id];
      if (slot === undefined) continue;
      waiting[id] = undefined;
      slot.fail(error);
    }
  };
  const onFrame: OnFrame = (id, reader, length) => {
    const slot = waiting[id];
    if (slot === undefined) throw new Error(`tight-raw: answer for unknown call ${id}`);
    const message = type.decode(reader, length);
    waiting[id] = undefined;
    freeIds.push(id);
    slot.ok(message);
  };
  const writers = await Promise.all(Array.from({ length: connections }, () => new Promise<{ socket: Socket; writer: FrameWriter }>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true }, () => resolve({ socket, writer: new FrameWriter(socket) }));
    const reader = new FrameReader(onFrame);
    socket.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch (error) {
        socket.destroy(error as Error);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => failAll(new Error('tight-raw: connection closed')));
  })));
  let next = 0;
  return {
    call(request: EchoRequest, slot: CallSlot) {
      if (closedReason !== undefined) {
        process.nextTick(slot.fail, closedReason);
        return;
      }
      const id = freeIds.length > 0 ? freeIds.pop()! : nextId++;
      waiting[id] = slot;
      writers[next++ % writers.length]!.writer.frame(id, type, request);
    },
    close: async () => writers.forEach((w) => w.socket.destroy()),
  };
}

export const tightRawKind: Kind = {
  serve: () => listen(echoType()),
  connect: ({ port, connections }) => dial(echoType(), port, connections),
};
