import { h2 } from '@trellis/testkit';
import t from 'tap';
import { GrpcServer, GrpcServiceRegistry, type GrpcServerCall } from '../src/index.js';
import { ErrorCode } from '../src/h2/constants.js';
import { bytes, startEngine, text } from './fixtures/engine.js';

// The engine's connection lifecycle against a raw peer (testkit's h2 frames): closing after a
// connection error, the SETTINGS ACK timeout, and HEADERS on closed streams (RFC 9113 §5.1, §5.4.1, §6.5.3).

const { Flag, frame, FrameType, grpcMessage, grpcRequestHeaders, RawHttp2Connection } = h2;
type Frame = h2.Frame;

const echo = { kind: 'unary' as const, handle: (call: GrpcServerCall) => call.request };
const goaway = (frames: readonly Frame[]) => frames.find((f) => f.type === FrameType.GOAWAY);
const goawayCode = (frames: readonly Frame[]) => goaway(frames)?.payload.readUInt32BE(4);
const resets = (frames: readonly Frame[], id: number) => frames.filter((f) => f.type === FrameType.RST_STREAM && f.streamId === id).map((f) => f.payload.readUInt32BE(0));
const answered = (id: number) => (frames: readonly Frame[]) => frames.some((f) => f.type === FrameType.HEADERS && f.streamId === id && (f.flags & Flag.END_STREAM) !== 0);
const reply = (frames: readonly Frame[], id: number) => text(Buffer.concat(frames.filter((f) => f.type === FrameType.DATA && f.streamId === id).map((f) => f.payload)).subarray(5));
const never = () => false;

t.test('a connection error: GOAWAY with its code, then the server closes the connection (no linger)', async (t) => {
  const { port, target, client } = await startEngine(t, { Echo: echo });
  const raw = await RawHttp2Connection.open(port);
  t.teardown(() => raw.destroy());
  // A PING on a stream is a connection error PROTOCOL_ERROR; the peer keeps writing after it, as a
  // confused client would: what it sends is read and dropped, and the GOAWAY still arrives whole.
  raw.write(frame(FrameType.PING, 0, 1, Buffer.alloc(8)));
  for (let i = 0; i < 50; i++) raw.write(frame(FrameType.PING, 0, 0, Buffer.alloc(8)));
  // Resolves when the server closed the socket. The bound is below the 5 s the engine used to keep
  // such a connection open and far above what a FIN behind the GOAWAY takes on a loaded machine.
  const { frames, closed } = await raw.until(never, 4000, 'the server closes the connection after its GOAWAY');
  t.ok(closed, 'the server closed the connection');
  t.equal(goawayCode(frames), ErrorCode.PROTOCOL_ERROR, 'after GOAWAY PROTOCOL_ERROR');
  t.match(goaway(frames)!.payload.subarray(8).toString(), /PING on a stream/, 'whose debug data says why');
  t.equal(text((await client.unary(target, '/test.Svc/Echo', bytes('still serving'))).message), 'still serving', 'the server serves other connections');
});

t.test('SETTINGS ACK timeout: a peer that never acknowledges the server\'s SETTINGS gets GOAWAY SETTINGS_TIMEOUT', async (t) => {
  const { port } = await startEngine(t, { Echo: echo }, { settingsTimeoutMs: 2000 });
  // Opened first, so its timer is the first to run out: it acknowledges (testkit's raw connection does by default).
  const polite = await RawHttp2Connection.open(port);
  const silent = await RawHttp2Connection.open(port, { ackSettings: false });
  t.teardown(() => {
    polite.destroy();
    silent.destroy();
  });
  const { frames, closed } = await silent.until(never, 30_000, 'the server ends the connection that never acknowledged its SETTINGS');
  t.ok(closed, 'the connection is closed');
  t.equal(goawayCode(frames), ErrorCode.SETTINGS_TIMEOUT, 'after GOAWAY SETTINGS_TIMEOUT');
  t.match(goaway(frames)!.payload.subarray(8).toString(), /did not acknowledge SETTINGS within 2000 ms/);
  // The polite connection's timer was due before the silent one's: it still serves.
  polite.write(Buffer.concat([frame(FrameType.HEADERS, Flag.END_HEADERS, 1, grpcRequestHeaders('/test.Svc/Echo', port)), frame(FrameType.DATA, Flag.END_STREAM, 1, grpcMessage(bytes('acknowledged')))]));
  const served = await polite.until(answered(1), 10_000, 'a call on the connection that acknowledged');
  t.notOk(served.closed, 'the acknowledging connection is open');
  t.equal(goawayCode(served.frames), undefined, 'and got no GOAWAY');
  t.equal(reply(served.frames, 1), 'acknowledged');
});

t.test('settingsTimeoutMs is validated', async (t) => {
  for (const bad of [-1, Number.NaN, Infinity, '10' as unknown as number]) {
    t.throws(() => new GrpcServer(new GrpcServiceRegistry(), { settingsTimeoutMs: bad }), { code: 'ERR_INVALID_OPTION', message: /settingsTimeoutMs/ });
  }
});

t.test('HEADERS on a stream both sides ended is a connection error STREAM_CLOSED', async (t) => {
  const { port } = await startEngine(t, { Echo: echo });
  const raw = await RawHttp2Connection.open(port);
  t.teardown(() => raw.destroy());
  const request = grpcRequestHeaders('/test.Svc/Echo', port);
  raw.write(Buffer.concat([frame(FrameType.HEADERS, Flag.END_HEADERS, 1, request), frame(FrameType.DATA, Flag.END_STREAM, 1, grpcMessage(bytes('once')))]));
  const first = await raw.until(answered(1), 10_000, 'the call on stream 1');
  t.equal(reply(first.frames, 1), 'once');
  raw.write(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 1, request));
  const { frames } = await raw.until((f) => goaway(f) !== undefined, 10_000, 'HEADERS on closed stream 1');
  t.equal(goawayCode(frames), ErrorCode.STREAM_CLOSED, 'GOAWAY STREAM_CLOSED');
  t.match(goaway(frames)!.payload.subarray(8).toString(), /HEADERS on closed stream 1/);
});

t.test('HEADERS on a stream the peer reset is a stream error STREAM_CLOSED; on one the server reset it is ignored', async (t) => {
  const { port } = await startEngine(t, { Echo: echo });
  const raw = await RawHttp2Connection.open(port);
  t.teardown(() => raw.destroy());
  const request = grpcRequestHeaders('/test.Svc/Echo', port);
  const cancel = Buffer.alloc(4);
  cancel.writeUInt32BE(ErrorCode.CANCEL, 0);
  raw.write(Buffer.concat([
    // Stream 1: opened, reset by the peer, then HEADERS again → RST_STREAM STREAM_CLOSED.
    frame(FrameType.HEADERS, Flag.END_HEADERS, 1, request),
    frame(FrameType.RST_STREAM, 0, 1, cancel),
    frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 1, request),
    // Stream 3: malformed (no :path), so the server resets it; the peer's trailers in flight are ignored.
    frame(FrameType.HEADERS, Flag.END_HEADERS, 3, h2.literalHeaders([[':method', 'POST'], [':scheme', 'http'], ['content-type', 'application/grpc']])),
    frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 3, h2.literalHeaders([['grpc-status', '0']])),
    // Stream 5: a call after all that — frames are handled in order, so its answer comes after theirs.
    frame(FrameType.HEADERS, Flag.END_HEADERS, 5, request),
    frame(FrameType.DATA, Flag.END_STREAM, 5, grpcMessage(bytes('served on'))),
  ]));
  const { frames, closed } = await raw.until(answered(5), 10_000, 'the call on stream 5');
  t.same(resets(frames, 1), [ErrorCode.STREAM_CLOSED], 'stream 1 (reset by the peer): RST_STREAM STREAM_CLOSED');
  t.same(resets(frames, 3), [ErrorCode.PROTOCOL_ERROR], 'stream 3 (reset by the server): its own RST_STREAM only, the late HEADERS ignored');
  t.notOk(closed, 'the connection is open');
  t.equal(goawayCode(frames), undefined, 'no GOAWAY: stream errors only');
  t.equal(reply(frames, 5), 'served on', 'and the connection serves on');
});
