import { connect, createServer, type Socket } from 'node:net';
import * as protobuf from 'protobufjs';
import { BENCH_PROTO } from '../payload.js';
import type { CallSlot, Kind } from './kind.js';

/**
 * The OLD raw baseline, kept for one release beside kinds/tight-raw.ts so the change of baseline is
 * visible: a bare `net` socket carrying `[4-byte length][4-byte id][body]` frames, protobufjs with
 * `fromObject`/`toObject` (int64 as strings) on both sides, a Buffer per frame, writes coalesced per
 * tick with Buffer.concat, no backpressure. It converts messages as Trellis's codec does, so it is
 * not the limit: tight-raw is.
 */
const EchoRequest = () => protobuf.loadSync(BENCH_PROTO).lookupType('bench.EchoRequest');

/** Collects frames written in one tick into a single socket write (as Trellis does). */
function coalescer(socket: Socket): (frame: Buffer) => void {
  let queue: Buffer[] = [];
  let bytes = 0;
  const flush = () => {
    const data = queue.length === 1 ? queue[0]! : Buffer.concat(queue, bytes);
    queue = [];
    bytes = 0;
    if (!socket.destroyed) socket.write(data);
  };
  return (frame) => {
    if (queue.length === 0) process.nextTick(flush);
    queue.push(frame);
    bytes += frame.length;
  };
}

function frame(id: number, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(8 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.writeUInt32BE(id, 4);
  out.set(body, 8);
  return out;
}

/** Calls onFrame(id, body) for every complete frame in the stream. */
function reader(onFrame: (id: number, body: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer | undefined;
  return (chunk) => {
    let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = undefined;
    let offset = 0;
    while (buf.length - offset >= 8) {
      const length = buf.readUInt32BE(offset);
      if (buf.length - offset - 8 < length) break;
      onFrame(buf.readUInt32BE(offset + 4), buf.subarray(offset + 8, offset + 8 + length));
      offset += 8 + length;
    }
    if (offset < buf.length) pending = buf.subarray(offset);
    buf = Buffer.alloc(0);
  };
}

export const rawKind: Kind = {
  async serve() {
    const type = EchoRequest();
    const server = createServer((socket) => {
      socket.setNoDelay(true);
      const write = coalescer(socket);
      socket.on('data', reader((id, body) => {
        const message = type.toObject(type.decode(body), { longs: String, defaults: true });
        write(frame(id, type.encode(type.fromObject(message)).finish()));
      }));
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { port: (server.address() as { port: number }).port, close: () => new Promise<void>((r) => server.close(() => r())) };
  },
  async connect({ port, connections }) {
    const type = EchoRequest();
    const pending = new Map<number, CallSlot>();
    const sockets = await Promise.all(Array.from({ length: connections }, () => new Promise<{ socket: Socket; write: (f: Buffer) => void }>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, noDelay: true }, () => resolve({ socket, write: coalescer(socket) }));
      socket.on('error', reject);
      socket.on('close', () => {
        for (const slot of pending.values()) slot.fail(new Error('raw: connection closed'));
        pending.clear();
      });
      socket.on('data', reader((id, body) => {
        const slot = pending.get(id);
        pending.delete(id);
        slot?.ok(type.toObject(type.decode(body), { longs: String, defaults: true }));
      }));
    })));
    let next = 0;
    let nextId = 1;
    return {
      call: (request, slot) => {
        const id = nextId++ >>> 0;
        pending.set(id, slot);
        sockets[next++ % sockets.length]!.write(frame(id, type.encode(type.fromObject(request)).finish()));
      },
      close: async () => sockets.forEach((s) => s.socket.destroy()),
    };
  },
};
