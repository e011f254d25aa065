import { createServer, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import type { Endpoint } from '../src/endpoint.js';
import { Code } from '../src/errors.js';
import { FIXED_HEADER_SIZE, FrameType } from '../src/transport/frame.js';
import { decodeResponseHeader, encodeResponseFrame } from '../src/transport/header-codec.js';
import { CAPABILITY_STREAMS } from '../src/transport/settings.js';
import { encodeStreamMessageFrame, encodeWindowUpdateFrame, fitStreamStatusFrame } from '../src/transport/stream-frames.js';
import { DEFAULT_SETTINGS } from '../src/transport/settings.js';
import { TcpClientTransport } from '../src/transport/tcp-client-transport.js';
import { settingsFrame } from './fixtures/raw-peer.js';
import { streamRequest, unaryRequest } from './fixtures/stream-transport.js';

interface Frame { type: number; streamId: number; flags: number; header: Buffer; body: Buffer }

/**
 * A hand-written server (a broken or hostile peer): it completes the handshake with `settings`, then
 * hands every frame the client sends to `onFrame`. It answers unary REQUESTs OK itself.
 */
async function fakeServer(t: Test, capabilities: number, onFrame: (socket: Socket, frame: Frame) => void): Promise<{ endpoint: Endpoint; frames: Frame[] }> {
  const frames: Frame[] = [];
  const server = createServer((socket) => {
    socket.on('error', () => {});
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= FIXED_HEADER_SIZE) {
        const headerLength = buffered.readUInt16BE(6);
        const end = FIXED_HEADER_SIZE + headerLength + buffered.readUInt32BE(12);
        if (buffered.length < end) break;
        const frame = {
          type: buffered[3]!, flags: buffered[4]!, streamId: buffered.readUInt32BE(8),
          header: buffered.subarray(FIXED_HEADER_SIZE, FIXED_HEADER_SIZE + headerLength), body: buffered.subarray(FIXED_HEADER_SIZE + headerLength, end),
        };
        buffered = buffered.subarray(end);
        frames.push(frame);
        if (frame.type === FrameType.SETTINGS) socket.write(settingsFrame({ capabilities }));
        else if (frame.type === FrameType.REQUEST) socket.write(encodeResponseFrame(FrameType.RESPONSE, frame.streamId, Code.OK, '', false, undefined, Buffer.from('ok')));
        else onFrame(socket, frame);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const port = (server.address() as { port: number }).port;
  return { endpoint: { id: `127.0.0.1:${port}`, host: '127.0.0.1', port, weight: 100, version: '', tags: {} }, frames };
}

const open = (client: TcpClientTransport, endpoint: Endpoint) => client.openStream(endpoint, streamRequest('m', 'bidi-streaming', { service: 's', timeoutMs: 5000 }));

const unaryOk = async (t: Test, client: TcpClientTransport, endpoint: Endpoint) => {
  const answer = await client.call(endpoint, unaryRequest('u'));
  t.equal(Buffer.from(answer.body).toString(), 'ok', 'unary calls on the same connection carry on');
};

t.test('an old server (no streams capability): UNIMPLEMENTED, never ran, nothing written', async (t) => {
  const { endpoint, frames } = await fakeServer(t, 0, () => {});
  const client = new TcpClientTransport();
  t.teardown(() => client.close());
  const stream = open(client, endpoint);
  await t.rejects(stream.headers, { code: Code.UNIMPLEMENTED, mayHaveRun: false, message: /does not support streams/ });
  await unaryOk(t, client, endpoint);
  t.notOk(frames.some((f) => f.type === FrameType.STREAM_OPEN), 'no stream frame was sent to it');
});

t.test('a server whose WINDOW_UPDATE overflows the credit: that stream fails and is reset with CANCEL; others carry on', async (t) => {
  const { endpoint, frames } = await fakeServer(t, CAPABILITY_STREAMS, (socket, frame) => {
    if (frame.type === FrameType.STREAM_OPEN && frame.streamId === 1) socket.write(encodeWindowUpdateFrame(1, 0x7fffffff));
  });
  const client = new TcpClientTransport();
  t.teardown(() => client.close());
  const bad = open(client, endpoint);
  await t.rejects(bad.headers, { code: Code.INTERNAL, message: /overflows the window/ });
  await unaryOk(t, client, endpoint);
  t.ok(frames.some((f) => f.type === FrameType.CANCEL && f.streamId === 1 && /overflows/.test(decodeResponseHeader(f.header, 0, f.header.length).message)), 'the server was told why (CANCEL with a reason)');
});

t.test('a server sending beyond the client\'s credit, and trailers for streams that do not exist: only that stream fails', async (t) => {
  const { endpoint } = await fakeServer(t, CAPABILITY_STREAMS, (socket, frame) => {
    if (frame.type !== FrameType.STREAM_OPEN) return;
    socket.write(fitStreamStatusFrame(DEFAULT_SETTINGS, FrameType.STREAM_TRAILERS, 999, Code.OK, '', false, undefined));
    socket.write(encodeStreamMessageFrame(777, Buffer.from('for nobody')));
    if (frame.streamId === 1) for (let i = 0; i < 10; i++) socket.write(encodeStreamMessageFrame(1, Buffer.alloc(1000)));
    else socket.write(fitStreamStatusFrame(DEFAULT_SETTINGS, FrameType.STREAM_TRAILERS, frame.streamId, Code.OK, '', false, new Map([['fine', 'yes']])));
  });
  const client = new TcpClientTransport({ streamWindow: 4096 });
  t.teardown(() => client.close());
  const flooded = open(client, endpoint);
  // Nothing is taken, so no credit goes back: the 5th message is past the 4 KiB granted, whatever the chunking.
  await t.rejects(flooded.trailers, { code: Code.RESOURCE_EXHAUSTED, message: /flow control/ });
  const good = open(client, endpoint);
  t.same(Object.fromEntries(await good.trailers), { fine: 'yes' }, 'a later stream on the same connection is fine');
  await unaryOk(t, client, endpoint);
});
