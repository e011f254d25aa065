import { connect, type Socket } from 'node:net';
import { h2 } from '@trellis/testkit';
import t from 'tap';
import { GrpcServer, GrpcServiceRegistry, type GrpcServerCall } from '../src/index.js';
import { bytes, startEngine, text, within } from './fixtures/engine.js';

// A client that opens the widest windows HTTP/2 allows and then never reads its socket: the windows
// say what it accepts, not what it takes. The server must not queue for it what its handlers write
// (writeHighWaterMark), and must drop what it queued once the keepalive round closes it.

const { Flag, frame, FrameType, grpcMessage, grpcRequestHeaders, HTTP2_PREFACE } = h2;

const MESSAGE = Buffer.alloc(1024, 0x61);
/** A gRPC frame of MESSAGE: what one send() hands the engine. */
const FRAME_BYTES = MESSAGE.length + 5;
const MAX_WINDOW = 2 ** 31 - 1;
/**
 * What the kernel takes off the server's hands without the peer reading: the server socket's send
 * buffer (tcp_wmem at most 4 MiB here) and the peer's receive buffer (128 KiB; it does not grow for a
 * socket that is never read). Generous: it only has to be far below what the engine queued before.
 */
const KERNEL_BYTES = 8 * 1024 * 1024;

/**
 * Server-streaming handlers that send `count` messages back to back, each `await`ing its send() —
 * a loop over results at hand, or a generator drained by the kernel. `parked()` resolves at the first
 * turn of the event loop where every call has either finished or waits in a send() that has not
 * resolved: microtasks are done by then, so those sends really wait for the socket.
 */
function backToBackStreams(streams: number, count: number) {
  let started = 0;
  let finished = 0;
  let waiting = 0;
  let handedBytes = 0;
  const failures: unknown[] = [];
  let onParked: (() => void) | undefined;
  let onAllFailed: (() => void) | undefined;
  let checkScheduled = false;
  const check = () => {
    checkScheduled = false;
    if (onParked !== undefined && started === streams && waiting + finished === streams) onParked();
    if (onAllFailed !== undefined && failures.length === streams) onAllFailed();
  };
  const schedule = () => {
    if (checkScheduled) return;
    checkScheduled = true;
    setImmediate(check);
  };
  const handler = {
    kind: 'server-streaming' as const,
    async handle(call: GrpcServerCall) {
      started++;
      try {
        for (let i = 0; i < count; i++) {
          const sent = call.send(MESSAGE);
          handedBytes += FRAME_BYTES;
          waiting++;
          schedule();
          try {
            await sent;
          } finally {
            waiting--;
          }
        }
      } catch (error) {
        failures.push(error);
        throw error;
      } finally {
        finished++;
        schedule();
      }
    },
  };
  return {
    handler,
    get handedBytes() {
      return handedBytes;
    },
    get finished() {
      return finished;
    },
    failures,
    parked: () => new Promise<void>((resolve) => {
      onParked = resolve;
      schedule();
    }),
    /** Resolves once every call ended with its send() rejected. */
    allFailed: () => new Promise<void>((resolve) => {
      onAllFailed = resolve;
      schedule();
    }),
  };
}

/**
 * A raw HTTP/2 client: SETTINGS_INITIAL_WINDOW_SIZE and the connection window at 2^31−1, `streams`
 * server-streaming calls to `path`, all in one write — and it never reads (paused before any answer).
 */
async function nonReadingPeer(port: number, path: string, streams: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.pause();
  const settings = Buffer.alloc(6);
  settings.writeUInt16BE(0x4, 0); // SETTINGS_INITIAL_WINDOW_SIZE
  settings.writeUInt32BE(MAX_WINDOW, 2);
  const increment = Buffer.alloc(4);
  increment.writeUInt32BE(MAX_WINDOW - 65_535);
  // The server's SETTINGS are acknowledged in advance: this peer reads nothing, not even them.
  const parts = [HTTP2_PREFACE, frame(FrameType.SETTINGS, 0, 0, settings), frame(FrameType.SETTINGS, Flag.ACK, 0), frame(FrameType.WINDOW_UPDATE, 0, 0, increment)];
  for (let i = 0; i < streams; i++) {
    const id = 1 + 2 * i;
    parts.push(frame(FrameType.HEADERS, Flag.END_HEADERS, id, grpcRequestHeaders(path, port)), frame(FrameType.DATA, Flag.END_STREAM, id, grpcMessage(Buffer.alloc(0))));
  }
  socket.write(Buffer.concat(parts));
  return socket;
}

const echo = { kind: 'unary' as const, handle: (call: GrpcServerCall) => call.request };

t.test('a peer that opens wide windows and never reads: handlers wait once writeHighWaterMark is queued, others are served', async (t) => {
  const STREAMS = 8;
  // 10,000 messages a call (10.3 MB, more than the bound below: no call can finish by the kernel's
  // taking bytes): 82 MB in all, which the engine used to queue for this peer at once.
  const watch = backToBackStreams(STREAMS, 10_000);
  const count = backToBackStreams(1, 100);
  const { server, port, target, client } = await startEngine(t, { Watch: watch.handler, Count: count.handler, Echo: echo }, { keepaliveTimeMs: 0 });
  const peer = await nonReadingPeer(port, '/test.Svc/Watch', STREAMS);
  t.teardown(() => peer.destroy());
  await within(watch.parked(), 60_000, 'every call finishing or waiting in send()');

  const bound = 1024 * 1024 + 16 * 1024 + STREAMS * FRAME_BYTES + KERNEL_BYTES;
  t.ok(watch.handedBytes <= bound, `the handlers handed ${watch.handedBytes} bytes to the engine, at most writeHighWaterMark (1 MiB) + one frame + one message per call + what the kernel takes (${bound})`);
  t.equal(watch.finished, 0, 'no call got to send all its messages to a peer that reads none');

  // Another connection is served meanwhile: a unary call and a whole server stream.
  t.equal(text((await client.unary(target, '/test.Svc/Echo', bytes('still serving'))).message), 'still serving');
  let received = 0;
  for await (const message of client.serverStream(target, '/test.Svc/Count', new Uint8Array(0))) received += message.length;
  t.equal(received, 100 * MESSAGE.length, 'a reading client gets every message of its stream');
  t.equal(server.connectionCount, 2, 'the non-reading connection is still open (keepalive is off here)');
});

t.test('the keepalive round closes a non-reading connection and drops what was queued for it', async (t) => {
  const STREAMS = 8;
  // A large mark, so that much more is queued when the connection is closed than the kernel holds.
  const writeHighWaterMark = 16 * 1024 * 1024;
  // 10,000 messages a call: one call alone can queue past 8 MiB, whichever tick the calls start in.
  const watch = backToBackStreams(STREAMS, 10_000);
  let reaped: (message: string) => void = () => undefined;
  const reapReport = new Promise<string>((resolve) => (reaped = resolve));
  const { server, port } = await startEngine(t, { Watch: watch.handler }, {
    writeHighWaterMark,
    // Long enough for the handlers to queue past the mark first on a loaded machine.
    keepaliveTimeMs: 2000,
    onError: (message) => {
      if (message.includes('keepalive')) reaped(message);
    },
  });
  const peer = await nonReadingPeer(port, '/test.Svc/Watch', STREAMS);
  t.teardown(() => peer.destroy());
  await within(watch.parked(), 60_000, 'every call finishing or waiting in send()');
  // The handlers wait from the first socket write that does not drain, so they may stop short of the
  // mark; what matters is that far more is queued than the kernel holds.
  const handed = watch.handedBytes;
  t.ok(handed >= 8 * 1024 * 1024, `the handlers handed the engine ${handed} bytes before waiting`);

  t.match(await within(reapReport, 30_000, 'the keepalive round closing the connection'), /did not answer a keepalive PING within 2000 ms/);
  await within(watch.allFailed(), 10_000, 'every call ending');
  t.match(watch.failures[0], { code: 1 }, 'the waiting send() calls fail with CANCELLED');
  t.equal(server.connectionCount, 0, 'the connection is no longer counted');

  // The peer reads now. The server dropped what it still held for it when it closed the connection:
  // what arrives is what the kernel had taken before, then the connection ends (the server used to
  // keep the socket and deliver everything to a peer that came back, or hold it forever).
  let received = 0;
  peer.on('data', (chunk: Buffer) => (received += chunk.length));
  const closed = new Promise<void>((resolve) => peer.once('close', () => resolve()));
  peer.resume();
  await within(closed, 30_000, 'the connection ending for the peer');
  t.ok(received < handed / 2, `the peer got ${received} of the ${handed} bytes handed to the engine: the rest was dropped`);
});

t.test('writeHighWaterMark is validated', async (t) => {
  for (const bad of [0, 16 * 1024 - 1, 1.5 * 1024 * 1024 + 0.5, -1, Number.NaN, Infinity, '1048576' as unknown as number]) {
    t.throws(() => new GrpcServer(new GrpcServiceRegistry(), { writeHighWaterMark: bad }), { code: 'ERR_INVALID_OPTION', message: /writeHighWaterMark/ });
  }
  t.doesNotThrow(() => new GrpcServer(new GrpcServiceRegistry(), { writeHighWaterMark: 16 * 1024 }));
});
