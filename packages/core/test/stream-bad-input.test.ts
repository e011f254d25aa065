import t, { type Test } from 'tap';
import { Code } from '../src/errors.js';
import { FIXED_HEADER_SIZE, FrameType } from '../src/transport/frame.js';
import { CAPABILITY_STREAMS, decodeSettings } from '../src/transport/settings.js';
import {
  encodeHalfCloseFrame, encodeStreamMessageFrame, encodeStreamOpenFrame, encodeWindowUpdateFrame,
} from '../src/transport/stream-frames.js';
import { DEFAULT_FRAME_LIMITS } from '../src/transport/frame.js';
import type { TcpServerOptions } from '../src/transport/tcp-server-transport.js';
import { fixedHeader, RawPeer, responseHeader, settingsFrame, type RawFrame } from './fixtures/raw-peer.js';
import { startStreamRig, streamRig, until } from './fixtures/stream-transport.js';

/** A unary request for the rig's unary handler (it answers "unary" to anything). */
function unaryFrame(streamId: number): Buffer {
  const open = encodeStreamOpenFrame(streamId, { group: 'default', service: 'u', version: '', method: 'u', timeoutMs: 5000, attempt: 1, metadata: new Map() }, 'server-streaming', DEFAULT_FRAME_LIMITS);
  open[3] = FrameType.REQUEST;
  open[4] = 0;
  return open;
}

function openFrame(streamId: number, method: string, kind: 'server-streaming' | 'client-streaming' | 'bidi-streaming' = 'bidi-streaming'): Buffer {
  return encodeStreamOpenFrame(streamId, { group: 'default', service: 'test.Streams', version: '', method, timeoutMs: 30_000, attempt: 1, metadata: new Map() }, kind, DEFAULT_FRAME_LIMITS);
}

const trailersOf = (peer: RawPeer, streamId: number): Promise<RawFrame> =>
  peer.next((f) => f.type === FrameType.STREAM_TRAILERS && f.streamId === streamId);

/** The connection still works: a unary call on it is answered OK. */
async function stillServes(t: Test, peer: RawPeer, streamId: number): Promise<void> {
  peer.write(unaryFrame(streamId));
  t.equal(responseHeader(await peer.response(streamId)).code, Code.OK, 'the connection carries on (a unary call is answered)');
}

/** A rig (by default an 8 KiB body limit) and a raw peer on it that announced the streams capability. */
async function setup(t: Test, server: TcpServerOptions = { limits: { maxBodySize: 8192 } }) {
  const rig = await startStreamRig({ server });
  const peer = await RawPeer.connect(rig.listener.port, { settings: { capabilities: CAPABILITY_STREAMS } });
  t.teardown(async () => { peer.destroy(); await rig.close(); });
  return { rig, peer };
}

t.test('the server announces the streams capability, its stream window and its open-stream limit', async (t) => {
  const rig = await streamRig(t, { server: { maxOpenStreams: 77, streamWindow: 4096 } });
  const peer = await RawPeer.connect(rig.listener.port, { handshake: false });
  t.teardown(() => peer.destroy());
  peer.write(settingsFrame());
  const settings = await peer.next((f) => f.type === FrameType.SETTINGS);
  t.match(decodeSettings(settings.header, 0, settings.header.length), { capabilities: CAPABILITY_STREAMS, maxOpenStreams: 77, streamWindow: 4096 });
});

t.test('a message for a stream that is not open: an error for that stream id only', async (t) => {
  const { peer } = await setup(t);
  peer.write(encodeStreamMessageFrame(41, Buffer.from('stray')));
  const header = responseHeader(await trailersOf(peer, 41));
  t.equal(header.code, Code.INVALID_ARGUMENT);
  t.match(header.message, /not open/);
  await stillServes(t, peer, 43);
});

t.test('a WINDOW_UPDATE that overflows the window past 2^31-1: that stream fails, its handler aborts', async (t) => {
  const { rig, peer } = await setup(t);
  peer.write(openFrame(1, 'Hang'));
  await peer.next((f) => f.type === FrameType.STREAM_HEADERS && f.streamId === 1);
  peer.write(encodeWindowUpdateFrame(1, 0x7fffffff));
  const header = responseHeader(await trailersOf(peer, 1));
  t.equal(header.code, Code.INVALID_ARGUMENT);
  t.match(header.message, /overflows/);
  await until(() => rig.log.aborts.length === 1, 20_000, 'the handler\'s abort');
  await stillServes(t, peer, 3);
});

t.test('a WINDOW_UPDATE of 0 is a stream error; one with the wrong size is a framing error (GOAWAY)', async (t) => {
  const { peer } = await setup(t);
  peer.write(openFrame(1, 'Hang'));
  await peer.next((f) => f.type === FrameType.STREAM_HEADERS && f.streamId === 1);
  peer.write(encodeWindowUpdateFrame(1, 0));
  t.match(responseHeader(await trailersOf(peer, 1)).message, /WINDOW_UPDATE of 0/);
  await stillServes(t, peer, 3);
  peer.write(Buffer.concat([fixedHeader({ type: FrameType.WINDOW_UPDATE, streamId: 5, bodyLength: 2 }), Buffer.alloc(2)]));
  const goAway = responseHeader(await peer.next((f) => f.type === FrameType.GOAWAY));
  t.equal(goAway.code, Code.INVALID_ARGUMENT);
  t.match(goAway.message, /WINDOW_UPDATE must carry exactly 4 bytes/);
});

t.test('a half-close twice, and a message after the half-close: errors for that stream', async (t) => {
  const { rig, peer } = await setup(t);
  peer.write(openFrame(1, 'Hang'));
  peer.write(encodeHalfCloseFrame(1));
  peer.write(encodeHalfCloseFrame(1));
  t.match(responseHeader(await trailersOf(peer, 1)), { code: Code.INVALID_ARGUMENT, message: /second half-close/ });
  peer.write(openFrame(3, 'Hang'));
  peer.write(encodeHalfCloseFrame(3));
  peer.write(encodeStreamMessageFrame(3, Buffer.from('late')));
  t.match(responseHeader(await trailersOf(peer, 3)), { code: Code.INVALID_ARGUMENT, message: /after the client's half-close/ });
  await until(() => rig.log.aborts.length === 2, 20_000, 'both handlers\' aborts');
  await stillServes(t, peer, 5);
});

t.test('an oversize stream message: refused for its stream (payload skipped), the connection carries on', async (t) => {
  const { peer } = await setup(t);
  peer.write(openFrame(1, 'Hang'));
  peer.write(encodeStreamMessageFrame(1, Buffer.alloc(9000)));
  t.match(responseHeader(await trailersOf(peer, 1)), { code: Code.RESOURCE_EXHAUSTED, message: /maxBodySize/ });
  await stillServes(t, peer, 3);
});

t.test('messages beyond the credit granted (a sender ignoring flow control): RESOURCE_EXHAUSTED for that stream', async (t) => {
  const { rig, peer } = await setup(t);
  const { peer: cheat } = await setup(t, { streamWindow: 4096 });
  cheat.write(openFrame(1, 'Hang')); // Hang never reads its requests: no credit comes back
  for (let i = 0; i < 10; i++) cheat.write(encodeStreamMessageFrame(1, Buffer.alloc(1000)));
  t.match(responseHeader(await trailersOf(cheat, 1)), { code: Code.RESOURCE_EXHAUSTED, message: /flow control/ });
  await stillServes(t, cheat, 3);
  t.equal(rig.log.opened, 0, '(the other server saw nothing)');
  void peer;
});

t.test('a STREAM_OPEN with an unknown kind, or a reused id: refused / GOAWAY', async (t) => {
  const { peer } = await setup(t);
  const bad = openFrame(1, 'Hang');
  bad[4] = 9;
  peer.write(bad);
  t.match(responseHeader(await trailersOf(peer, 1)), { code: Code.INVALID_ARGUMENT, notExecuted: true, message: /stream kind 9/ });
  peer.write(openFrame(3, 'Hang'));
  await peer.next((f) => f.type === FrameType.STREAM_HEADERS && f.streamId === 3);
  peer.write(openFrame(3, 'Hang'));
  t.match(responseHeader(await peer.next((f) => f.type === FrameType.GOAWAY)).message, /reused/);
});

t.test('a client without the capability is still served (the capability is what the server offers)', async (t) => {
  const rig = await streamRig(t);
  const peer = await RawPeer.connect(rig.listener.port);
  t.teardown(() => peer.destroy());
  peer.write(openFrame(1, 'Deadline', 'server-streaming'));
  const message = await peer.next((f) => f.type === FrameType.STREAM_MESSAGE && f.streamId === 1);
  t.equal(message.body.toString(), '30000');
  t.equal(message.header.length, 0);
  t.equal(FIXED_HEADER_SIZE + message.body.length, 21);
});
