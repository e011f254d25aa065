import type { Socket } from 'node:net';
import { Code } from '@trellis/core';
import { seededRandom, waitFor } from '@trellis/testkit';
import t from 'tap';
import type { GrpcServerCall } from '../src/index.js';
import { bytes, startEngine, text } from './fixtures/engine.js';
import { Flag, frame, FrameType, grpcRequestHeaders, literalHeaders, parseFrames, rawConnection } from './fixtures/h2-frames.js';

/**
 * The HTTP/2 fuzz target: hostile input on raw connections while a well-formed client keeps
 * calling on its own connection. Every attack must end in a protocol answer (a stream error, a
 * GOAWAY, a closed connection) and none may disturb the server or the good client. The seed makes
 * a failing random run reproducible: TRELLIS_FUZZ_SEED=… pnpm exec tap test/fuzz-http2.test.ts
 */
const seed = Number(process.env.TRELLIS_FUZZ_SEED ?? Date.now() % 1_000_000);

const echo = { kind: 'unary' as const, handle: (call: GrpcServerCall) => call.request };

/** Waits until the connection is closed by the server or `frames` shows what we expect. */
async function outcome(socket: Socket & { received: Buffer[] }, expect: (frames: ReturnType<typeof parseFrames>) => boolean, timeoutMs = 10_000) {
  let frames: ReturnType<typeof parseFrames> = [];
  await waitFor(() => {
    frames = parseFrames(Buffer.concat(socket.received));
    return socket.destroyed || socket.readableEnded || expect(frames);
  }, { timeoutMs, what: 'the server to answer the attack' });
  return { frames, closed: socket.destroyed || socket.readableEnded };
}

const goaway = (frames: ReturnType<typeof parseFrames>) => frames.some((f) => f.type === FrameType.GOAWAY);
const endedStream = (id: number) => (frames: ReturnType<typeof parseFrames>) =>
  frames.some((f) => f.streamId === id && ((f.type === FrameType.HEADERS && (f.flags & Flag.END_STREAM) !== 0) || f.type === FrameType.RST_STREAM));

t.test(`HTTP/2 fuzz target (seed ${seed})`, async (t) => {
  const { port, target, client, server } = await startEngine(t, { Echo: echo }, { maxReceiveMessageSize: 64 * 1024 });

  // The well-formed client, calling throughout.
  let good = 0;
  let bad: unknown;
  let running = true;
  const steady = (async () => {
    while (running) {
      try {
        const answer = await client.unary(target, '/test.Svc/Echo', bytes(`call ${good}`), { timeoutMs: 10_000 });
        if (text(answer.message) !== `call ${good}`) throw new Error(`wrong answer ${text(answer.message)}`);
        good++;
      } catch (error) {
        bad ??= error;
      }
    }
  })();
  await waitFor(() => good > 0, { timeoutMs: 10_000, what: 'the good client to start' });

  t.test('malformed HEADERS: garbage HPACK is a connection error (GOAWAY)', async (t) => {
    const socket = await rawConnection(port);
    socket.write(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f, 0x80, 0x00])));
    const { frames, closed } = await outcome(socket, goaway);
    t.ok(goaway(frames) || closed, 'the connection is refused');
    socket.destroy();
  });

  t.test('malformed HEADERS: missing :path, header names in upper case, HEADERS on stream 0', async (t) => {
    const socket = await rawConnection(port);
    socket.write(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 1, literalHeaders([[':method', 'POST'], [':scheme', 'http'], ['content-type', 'application/grpc']])));
    socket.write(frame(FrameType.HEADERS, Flag.END_HEADERS | Flag.END_STREAM, 3, literalHeaders([[':method', 'POST'], [':scheme', 'http'], [':path', '/test.Svc/Echo'], ['Content-Type', 'application/grpc']])));
    const first = await outcome(socket, (f) => endedStream(1)(f) && endedStream(3)(f));
    t.ok(first.closed || (endedStream(1)(first.frames) && endedStream(3)(first.frames)), 'each malformed stream is reset');
    socket.write(frame(FrameType.HEADERS, Flag.END_HEADERS, 0, grpcRequestHeaders('/test.Svc/Echo', port)));
    const second = await outcome(socket, goaway);
    t.ok(second.closed || goaway(second.frames), 'HEADERS on stream 0 is a connection error');
    socket.destroy();
  });

  t.test('a length prefix beyond the message limit is RESOURCE_EXHAUSTED for that stream only', async (t) => {
    const socket = await rawConnection(port);
    socket.write(frame(FrameType.HEADERS, Flag.END_HEADERS, 1, grpcRequestHeaders('/test.Svc/Echo', port)));
    const prefix = Buffer.from([0, 0x7f, 0xff, 0xff, 0xff]);
    socket.write(frame(FrameType.DATA, 0, 1, prefix));
    const { frames } = await outcome(socket, endedStream(1));
    t.ok(endedStream(1)(frames), 'the stream is answered and ended');
    t.notOk(goaway(frames), 'the connection stays up');
    socket.destroy();
  });

  t.test('a compressed flag without grpc-encoding ends that stream (INTERNAL)', async (t) => {
    const socket = await rawConnection(port);
    socket.write(frame(FrameType.HEADERS, Flag.END_HEADERS, 1, grpcRequestHeaders('/test.Svc/Echo', port)));
    socket.write(frame(FrameType.DATA, Flag.END_STREAM, 1, Buffer.from([1, 0, 0, 0, 3, 1, 2, 3])));
    const { frames } = await outcome(socket, endedStream(1));
    t.ok(endedStream(1)(frames));
    t.notOk(goaway(frames));
    socket.destroy();
  });

  t.test('RST flood: thousands of streams opened and reset at once', async (t) => {
    const socket = await rawConnection(port);
    const burst: Buffer[] = [];
    for (let id = 1; id < 2 * 5000; id += 2) {
      burst.push(frame(FrameType.HEADERS, Flag.END_HEADERS, id, grpcRequestHeaders('/test.Svc/Echo', port)));
      burst.push(frame(FrameType.RST_STREAM, 0, id, Buffer.from([0, 0, 0, 8])));
    }
    socket.write(Buffer.concat(burst));
    const { frames, closed } = await outcome(socket, goaway, 20_000);
    t.ok(closed || goaway(frames), 'the flooding connection is cut off (rapid-reset protection)');
    socket.destroy();
    await waitFor(() => server.activeCalls === 0, { timeoutMs: 10_000, what: 'every reset call to be released' });
    t.pass('no call is left behind');
  });

  t.test('SETTINGS flood: thousands of SETTINGS frames without waiting for ACKs', async (t) => {
    const socket = await rawConnection(port);
    const settings = frame(FrameType.SETTINGS, 0, 0, Buffer.from([0, 3, 0, 0, 0, 100]));
    socket.write(Buffer.concat(Array.from({ length: 20_000 }, () => settings)));
    const { frames, closed } = await outcome(socket, goaway, 20_000);
    t.ok(closed || goaway(frames), 'the flooding connection is cut off');
    socket.destroy();
  });

  t.test('random frames after the preface', async (t) => {
    const random = seededRandom(seed);
    let refused = 0;
    let answered = 0;
    for (let round = 0; round < 30; round++) {
      const socket = await rawConnection(port);
      const frames: Buffer[] = [];
      for (let i = 0; i < 20; i++) {
        const payload = Buffer.alloc(Math.floor(random() * 64));
        for (let j = 0; j < payload.length; j++) payload[j] = Math.floor(random() * 256);
        frames.push(frame(Math.floor(random() * 10), Math.floor(random() * 256), Math.floor(random() * 8), payload));
      }
      // A valid PING after the junk: its ACK (or a GOAWAY, or a close) proves the server got through it all.
      const sentinel = Buffer.from('sentinel');
      socket.write(Buffer.concat([...frames, frame(FrameType.PING, 0, 0, sentinel)]));
      const { frames: answers, closed } = await outcome(socket, (f) => goaway(f) || f.some((x) => x.type === FrameType.PING && x.payload.equals(sentinel)));
      if (closed || goaway(answers)) refused++;
      else answered++;
      socket.destroy();
    }
    t.equal(refused + answered, 30, `30 connections of random frames were absorbed (${refused} refused with GOAWAY or closed, ${answered} survived)`);
  });

  t.test('random message bytes on well-formed gRPC streams end those streams only', async (t) => {
    const random = seededRandom(seed + 1);
    const socket = await rawConnection(port);
    const ids: number[] = [];
    for (let i = 0, id = 1; i < 50; i++, id += 2) {
      const payload = Buffer.alloc(1 + Math.floor(random() * 40));
      for (let j = 0; j < payload.length; j++) payload[j] = Math.floor(random() * 256);
      // Half the time a plausible prefix (flag 0/1, a length close to the payload), else pure noise.
      if (random() < 0.5 && payload.length > 5) {
        payload[0] = random() < 0.5 ? 0 : 1;
        payload.writeUInt32BE(Math.max(0, payload.length - 5 + Math.floor(random() * 3) - 1), 1);
      }
      socket.write(frame(FrameType.HEADERS, Flag.END_HEADERS, id, grpcRequestHeaders('/test.Svc/Echo', port)));
      socket.write(frame(FrameType.DATA, Flag.END_STREAM, id, payload));
      ids.push(id);
    }
    const { frames, closed } = await outcome(socket, (f) => ids.every((id) => endedStream(id)(f)));
    t.notOk(closed || goaway(frames), 'the connection survives bad messages');
    t.ok(ids.every((id) => endedStream(id)(frames)), 'every stream got an answer (a response or an error status)');
    socket.destroy();
  });

  t.test('the server is still up and the good client never failed', async (t) => {
    await waitFor(() => server.activeCalls <= 1, { timeoutMs: 10_000, what: 'attack calls to drain' });
    running = false;
    await steady;
    t.equal(bad, undefined, `the well-formed client made ${good} calls alongside, none failed`);
    t.ok(good > 0);
    const last = await client.unary(target, '/test.Svc/Echo', bytes('after'));
    t.equal(text(last.message), 'after');
    t.match(await client.unary(target, '/test.Svc/Nope', bytes('x')).catch((e: { code: number }) => e), { code: Code.UNIMPLEMENTED });
  });
});
