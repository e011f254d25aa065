import { RpcClient, RpcServer } from '@trellis/core';
import { DEFAULT_FRAME_LIMITS, FrameDecoder, FrameType, type FrameSink } from '@trellis/core/internal';
import { createEchoHandlers, loadEchoService } from '@trellis/testkit';
import type { BadPeerResult } from './result.js';

const MiB = 1024 * 1024;

/** Feeds one frame of `size` body bytes in `chunk`-byte pieces; returns ms taken and bytes copied. */
function assemble(size: number, chunk: number): { ms: number; copied: number } {
  let delivered = 0;
  const sink: FrameSink = {
    onFrame: (_type, _id, _buf, _hs, _he, end) => { delivered = end; },
    onRefusedFrame: (_type, _id, reason) => { throw new Error(reason); },
    onProtocolError: (message) => { throw new Error(message); },
  };
  const decoder = new FrameDecoder({ ...DEFAULT_FRAME_LIMITS, maxBodySize: size }, sink);
  const frame = Buffer.alloc(16 + size, 7);
  frame.writeUInt16BE(0x5452, 0);
  frame[2] = 2;
  frame[3] = FrameType.REQUEST;
  frame.writeUInt16BE(0, 6);
  frame.writeUInt32BE(1, 8);
  frame.writeUInt32BE(size, 12);
  const concat = Buffer.concat;
  let copied = 0;
  Buffer.concat = ((list: readonly Uint8Array[], total?: number) => {
    copied += total ?? list.reduce((n, b) => n + b.length, 0);
    return concat(list, total);
  }) as typeof Buffer.concat;
  const started = performance.now();
  try {
    for (let offset = 0; offset < frame.length; offset += chunk) decoder.push(frame.subarray(offset, offset + chunk));
  } finally {
    Buffer.concat = concat;
  }
  const ms = performance.now() - started;
  if (delivered !== frame.length) throw new Error(`frame of ${size} bytes not delivered`);
  return { ms, copied };
}

/**
 * Frames of 4 to 64 MiB arriving in small chunks must be assembled in time linear in their size
 * (each byte copied once). Checked by bytes copied, reported with times; plus one real 64 MiB call
 * over loopback with both sides' maxBodySize raised. (Before: 0.41 s at 4 MiB, 22 s at 32 MiB, 90 s
 * at 64 MiB in 64 KiB chunks.)
 */
export async function largeFrames(sizesMiB: readonly number[], socketMiB: number): Promise<BadPeerResult> {
  const failures: string[] = [];
  const lines: string[] = [];
  for (const [chunk, label] of [[64 * 1024, '64 KiB'], [1024, '1 KiB']] as const) {
    const parts: string[] = [];
    for (const mib of sizesMiB) {
      if (chunk === 1024 && mib > 16) continue; // a 64 MiB frame is 65,536 pushes of 1 KiB: enough shown at 16
      const { ms, copied } = assemble(mib * MiB, chunk);
      if (copied > mib * MiB + 16) failures.push(`a ${mib} MiB frame in ${label} chunks copied ${copied} bytes (more than once)`);
      parts.push(`${mib} MiB ${ms.toFixed(0)} ms (${(ms / mib).toFixed(1)} ms/MiB)`);
    }
    lines.push(`assembly in ${label} chunks: ${parts.join(', ')}; each byte copied once`);
  }
  if (socketMiB > 0) {
    const limits = { maxBodySize: (socketMiB + 1) * MiB };
    const server = new RpcServer({ host: '127.0.0.1', tcp: { limits } });
    server.addService(loadEchoService(), createEchoHandlers({ servedBy: 'large' }));
    await server.start();
    const client = new RpcClient({ service: loadEchoService(), addresses: [`127.0.0.1:${server.port}`], timeoutMs: 120_000, tcp: { limits } });
    try {
      await client.invoke('Echo', { message: 'warm' });
      const message = 'L'.repeat(socketMiB * MiB);
      const started = performance.now();
      const reply = (await client.invoke('Echo', { message })) as { message: string };
      const ms = performance.now() - started;
      if (reply.message.length !== message.length) failures.push(`the ${socketMiB} MiB echo came back with ${reply.message.length} bytes`);
      lines.push(`a ${socketMiB} MiB echo over loopback (both directions, encode and decode included): ${ms.toFixed(0)} ms`);
    } finally {
      await client.close();
      await server.close({ graceMs: 1000 });
    }
  }
  return { attack: 'large frames in small chunks', failures, lines };
}
