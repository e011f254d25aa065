import { connect as netConnect, type Socket } from 'node:net';
import t from 'tap';
import { type GrpcServerCall } from '../src/index.js';
import { ErrorCode } from '../src/h2/constants.js';
import { HpackDecoder } from '../src/h2/hpack-decoder.js';
import { HpackEncoder } from '../src/h2/hpack-encoder.js';
import { huffmanDecode, huffmanEncode } from '../src/h2/huffman.js';
import { bytes, startEngine, text, within } from './fixtures/engine.js';
import { frame, parseFrames } from './fixtures/h2-frames.js';

const echo = { kind: 'unary' as const, handle: (call: GrpcServerCall) => call.request };
const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex');
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const T = { DATA: 0, HEADERS: 1, PRIORITY: 2, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 };

function pairs(fields: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < fields.length; i += 2) out.push([fields[i]!, fields[i + 1]!]);
  return out;
}

/** HPACK string literal without Huffman; names and values here are short. */
function literal(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0x00, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value)]);
}
const requestBlock = (path = '/test.Svc/Echo') => Buffer.concat([
  Buffer.from([0x83, 0x86]), literal(':path', path), literal('content-type', 'application/grpc'), literal('te', 'trailers'),
]);
function grpcMessage(message: Buffer): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

t.test('HPACK: the RFC 7541 C.4 requests (Huffman, dynamic table across blocks) decode as the RFC says', async (t) => {
  const decoder = new HpackDecoder();
  const out1: string[] = [];
  decoder.decode(hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff'), out1);
  t.same(pairs(out1), [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']]);
  const out2: string[] = [];
  decoder.decode(hex('8286 84be 5886 a8eb 1064 9cbf'), out2);
  t.same(pairs(out2), [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache']]);
  const out3: string[] = [];
  decoder.decode(hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf'), out3);
  t.same(pairs(out3), [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']]);
  t.throws(() => new HpackDecoder().decode(hex('ff ff ff ff ff ff 01'), []), { name: 'HpackError' }, 'an integer past 2^28');
  t.throws(() => new HpackDecoder().decode(hex('be'), []), { name: 'HpackError' }, 'an index beyond the empty dynamic table');
  t.throws(() => new HpackDecoder().decode(hex('82 3f e1 1f'), []), { name: 'HpackError' }, 'a table size update after a field');
  t.throws(() => new HpackDecoder(100).decode(hex('3f e1 1f'), []), { name: 'HpackError' }, 'a table size above the announced one');
  // Huffman: every byte value round-trips; EOS inside the string and padding of 8 bits are refused.
  const all = String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i));
  const encoded = huffmanEncode(all);
  t.equal(huffmanDecode(encoded, 0, encoded.length), all);
  t.equal(huffmanDecode(hex('ffffffff'), 0, 4), undefined, 'EOS decoded');
  t.equal(huffmanDecode(hex('1f ff'), 0, 2), undefined, 'padding longer than 7 bits');
  // The encoder's blocks decode back to what it was given.
  const headers = { ':status': '200', 'content-type': 'application/grpc', 'grpc-status': '3', 'x-list': ['a', 'b'] };
  const back: string[] = [];
  new HpackDecoder().decode(new HpackEncoder().encode(headers), back);
  t.same(pairs(back), [[':status', '200'], ['content-type', 'application/grpc'], ['grpc-status', '3'], ['x-list', 'a'], ['x-list', 'b']]);
});

/** A raw HTTP/2 connection: preface and SETTINGS sent, every frame received collected. */
async function rawConnection(port: number) {
  const socket: Socket = netConnect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  let received = Buffer.alloc(0);
  let closed = false;
  const waiters: (() => void)[] = [];
  const wake = () => waiters.splice(0).forEach((w) => w());
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    wake();
  });
  socket.on('close', () => {
    closed = true;
    wake();
  });
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(Buffer.concat([PREFACE, frame(T.SETTINGS, 0, 0)]));
  const frames = () => parseFrames(received);
  return {
    socket,
    frames,
    write: (...frames: Buffer[]) => socket.write(Buffer.concat(frames)),
    async until(what: string, test: (f: ReturnType<typeof parseFrames>) => boolean) {
      await within(new Promise<void>((resolve) => {
        const check = () => (test(frames()) || closed ? resolve() : waiters.push(check));
        check();
      }), 10_000, what);
      return frames();
    },
  };
}
const goawayCode = (f: ReturnType<typeof parseFrames>) => f.filter((x) => x.type === T.GOAWAY).map((x) => x.payload.readUInt32BE(4))[0];
const rstCode = (f: ReturnType<typeof parseFrames>, stream: number) => f.filter((x) => x.type === T.RST_STREAM && x.streamId === stream).map((x) => x.payload.readUInt32BE(0))[0];

t.test('HTTP/2 engine: SETTINGS and PING are acknowledged; a call over raw frames, padded and split in CONTINUATION', async (t) => {
  const { port } = await startEngine(t, { Echo: echo });
  const raw = await rawConnection(port);
  t.teardown(() => raw.socket.destroy());
  const ping = Buffer.from('12345678');
  raw.write(frame(T.PING, 0, 0, ping));
  let frames = await raw.until('the PING ACK and the SETTINGS ACK', (f) => f.some((x) => x.type === T.PING && x.flags === 1) && f.some((x) => x.type === T.SETTINGS && x.flags === 1));
  t.same(frames.find((x) => x.type === T.PING)!.payload, ping, 'the PING ACK carries the payload');
  const settings = frames.find((x) => x.type === T.SETTINGS && x.flags === 0)!;
  t.ok(settings.payload.length % 6 === 0 && settings.payload.length > 0, 'the server announces its SETTINGS');
  const block = requestBlock();
  // HEADERS (padded, with PRIORITY) carrying half the block, then CONTINUATION; DATA padded.
  const half = block.length >> 1;
  const headers = Buffer.concat([Buffer.from([3]), Buffer.from([0, 0, 0, 0, 16]), block.subarray(0, half), Buffer.alloc(3)]);
  const message = grpcMessage(bytes('over raw frames'));
  const data = Buffer.concat([Buffer.from([2]), message, Buffer.alloc(2)]);
  raw.write(frame(T.HEADERS, 0x8 | 0x20, 1, headers), frame(T.CONTINUATION, 0x4, 1, block.subarray(half)), frame(T.DATA, 0x8 | 0x1, 1, data));
  frames = await raw.until('the response', (f) => f.some((x) => x.type === T.HEADERS && x.streamId === 1 && (x.flags & 1) === 1));
  const body = Buffer.concat(frames.filter((x) => x.type === T.DATA && x.streamId === 1).map((x) => x.payload));
  t.equal(text(body.subarray(5)), 'over raw frames', 'the message is echoed');
  // The same header block again (decoded once, then reused from the connection's cache) on new streams.
  raw.write(frame(T.HEADERS, 0x4, 3, block), frame(T.DATA, 0x1, 3, grpcMessage(bytes('second'))));
  raw.write(frame(T.HEADERS, 0x4, 5, requestBlock('/test.Svc/Nope')), frame(T.DATA, 0x1, 5, grpcMessage(bytes('third'))));
  frames = await raw.until('two more responses', (f) => [3, 5].every((id) => f.some((x) => x.type === T.HEADERS && x.streamId === id && (x.flags & 1) === 1)));
  t.equal(text(Buffer.concat(frames.filter((x) => x.type === T.DATA && x.streamId === 3).map((x) => x.payload)).subarray(5)), 'second');
  t.notOk(frames.some((x) => x.type === T.DATA && x.streamId === 5), 'another path in a block of the same length is its own call (UNIMPLEMENTED, Trailers-Only)');
});

t.test('HTTP/2 engine: protocol errors get GOAWAY or RST_STREAM with the RFC code, and the server serves on', async (t) => {
  const { port, target, client, reports } = await startEngine(t, { Echo: echo }, { maxConcurrentStreams: 2 });
  const connectionErrors: [string, Buffer[], number][] = [
    ['DATA on stream 0', [frame(T.DATA, 0, 0, Buffer.from('x'))], ErrorCode.PROTOCOL_ERROR],
    ['a frame above SETTINGS_MAX_FRAME_SIZE', [frame(T.DATA, 0, 1, Buffer.alloc(16_385))], ErrorCode.FRAME_SIZE_ERROR],
    ['CONTINUATION without HEADERS', [frame(T.CONTINUATION, 0x4, 1, requestBlock())], ErrorCode.PROTOCOL_ERROR],
    ['a PING of 7 bytes', [frame(T.PING, 0, 0, Buffer.alloc(7))], ErrorCode.FRAME_SIZE_ERROR],
    ['SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1', [frame(T.SETTINGS, 0, 0, Buffer.from([0, 4, 0x80, 0, 0, 0]))], ErrorCode.FLOW_CONTROL_ERROR],
    ['a connection WINDOW_UPDATE of 0', [frame(T.WINDOW_UPDATE, 0, 0, Buffer.alloc(4))], ErrorCode.PROTOCOL_ERROR],
    ['HEADERS interrupted by a PING', [frame(T.HEADERS, 0, 1, requestBlock()), frame(T.PING, 0, 0, Buffer.alloc(8))], ErrorCode.PROTOCOL_ERROR],
    ['an even stream id', [frame(T.HEADERS, 0x4, 2, requestBlock())], ErrorCode.PROTOCOL_ERROR],
    ['padding longer than the frame', [frame(T.HEADERS, 0x4 | 0x8, 1, Buffer.from([200, 0x83]))], ErrorCode.PROTOCOL_ERROR],
    ['RST_STREAM on an idle stream', [frame(T.RST_STREAM, 0, 9, Buffer.alloc(4))], ErrorCode.PROTOCOL_ERROR],
  ];
  for (const [what, frames, code] of connectionErrors) {
    const raw = await rawConnection(port);
    raw.write(...frames);
    const got = await raw.until(what, (f) => goawayCode(f) !== undefined);
    t.equal(goawayCode(got), code, `${what}: GOAWAY with code ${code}`);
    raw.socket.destroy();
  }
  // Stream errors: the connection goes on.
  const raw = await rawConnection(port);
  t.teardown(() => raw.socket.destroy());
  raw.write(
    frame(T.HEADERS, 0x4, 1, Buffer.concat([Buffer.from([0x83, 0x86]), literal('content-type', 'application/grpc')])), // no :path
    frame(T.HEADERS, 0x4, 3, Buffer.concat([requestBlock(), literal('connection', 'close')])), // connection-specific header
    frame(T.HEADERS, 0x4, 5, requestBlock()),
    frame(T.WINDOW_UPDATE, 0, 5, Buffer.alloc(4)), // increment 0 on a stream
    frame(T.HEADERS, 0x4, 7, requestBlock()),
    frame(T.HEADERS, 0x4, 9, requestBlock()),
    frame(T.HEADERS, 0x4, 11, requestBlock()), // the third open stream: over maxConcurrentStreams 2
  );
  const got = await raw.until('the stream errors', (f) => [1, 3, 5, 11].every((id) => rstCode(f, id) !== undefined));
  t.equal(rstCode(got, 1), ErrorCode.PROTOCOL_ERROR, 'no :path: RST_STREAM PROTOCOL_ERROR');
  t.equal(rstCode(got, 3), ErrorCode.PROTOCOL_ERROR, 'a connection-specific header: RST_STREAM PROTOCOL_ERROR');
  t.equal(rstCode(got, 5), ErrorCode.PROTOCOL_ERROR, 'a stream WINDOW_UPDATE of 0: RST_STREAM PROTOCOL_ERROR');
  t.equal(rstCode(got, 11), ErrorCode.REFUSED_STREAM, 'past SETTINGS_MAX_CONCURRENT_STREAMS: REFUSED_STREAM');
  t.equal(goawayCode(got), undefined, 'no GOAWAY for stream errors');
  t.match(reports.join('\n'), /HTTP\/2 protocol error: DATA on stream 0/, 'connection errors are reported');
  t.equal(text((await client.unary(target, '/test.Svc/Echo', bytes('still serving'))).message), 'still serving');
});

t.test('HTTP/2 engine: responses wait for the peer\'s windows (SETTINGS_INITIAL_WINDOW_SIZE, WINDOW_UPDATE)', async (t) => {
  const { port } = await startEngine(t, { Echo: echo });
  const raw = await rawConnection(port);
  t.teardown(() => raw.socket.destroy());
  const window = Buffer.from([0, 4, 0, 0, 0, 16]); // SETTINGS_INITIAL_WINDOW_SIZE = 16 bytes per stream
  const message = grpcMessage(Buffer.alloc(40, 0x61)); // 45 bytes framed
  raw.write(frame(T.SETTINGS, 0, 0, window), frame(T.HEADERS, 0x4, 1, requestBlock()), frame(T.DATA, 0x1, 1, message));
  const dataBytes = (f: ReturnType<typeof parseFrames>) => f.filter((x) => x.type === T.DATA && x.streamId === 1).reduce((n, x) => n + x.payload.length, 0);
  await raw.until('the first 16 bytes', (f) => dataBytes(f) > 0);
  // A PING answered after the server had every chance to send more: the window held it at 16.
  raw.write(frame(T.PING, 0, 0, Buffer.from('window!!')));
  let frames = await raw.until('the PING ACK', (f) => f.some((x) => x.type === T.PING && x.flags === 1));
  t.equal(dataBytes(frames), 16, 'no more DATA than the stream window allows');
  t.notOk(frames.some((x) => x.type === T.HEADERS && x.streamId === 1 && (x.flags & 1) === 1), 'no trailers before the DATA');
  raw.write(frame(T.WINDOW_UPDATE, 0, 1, Buffer.from([0, 0, 0, 100])));
  frames = await raw.until('the rest and the trailers', (f) => f.some((x) => x.type === T.HEADERS && x.streamId === 1 && (x.flags & 1) === 1));
  t.equal(dataBytes(frames), message.length, 'the rest follows the WINDOW_UPDATE, then the trailers');
});

t.test('HTTP/2 engine: small messages written in one tick share DATA frames, and each arrives whole and in order', async (t) => {
  const { port } = await startEngine(t, {
    Echo: {
      kind: 'server-streaming',
      async handle(call) {
        // Sent without waiting in between (the window allows it): one tick's worth of writes.
        const sends: Promise<void>[] = [];
        for (let i = 0; i < 200; i++) sends.push(call.send(bytes(`message ${i}`)));
        await Promise.all(sends);
      },
    },
  });
  const raw = await rawConnection(port);
  t.teardown(() => raw.socket.destroy());
  raw.write(frame(T.HEADERS, 0x4, 1, requestBlock()), frame(T.DATA, 0x1, 1, grpcMessage(bytes('go'))));
  const frames = await raw.until('the trailers', (f) => f.some((x) => x.type === T.HEADERS && x.streamId === 1 && (x.flags & 1) === 1));
  const data = frames.filter((x) => x.type === T.DATA && x.streamId === 1);
  t.ok(data.length < 20, `200 messages in ${data.length} DATA frames, not one frame each`);
  t.ok(data.every((x) => x.payload.length <= 16_384), 'no frame above the default SETTINGS_MAX_FRAME_SIZE');
  const body = Buffer.concat(data.map((x) => x.payload));
  const messages: string[] = [];
  for (let at = 0; at < body.length;) {
    const length = body.readUInt32BE(at + 1);
    messages.push(text(body.subarray(at + 5, at + 5 + length)));
    at += 5 + length;
  }
  t.same(messages, Array.from({ length: 200 }, (_, i) => `message ${i}`));
});

t.test('HTTP/2 engine: frames dribbled in pieces of 1–7 bytes are put back together', async (t) => {
  const { port } = await startEngine(t, { Echo: echo });
  const raw = await rawConnection(port);
  t.teardown(() => raw.socket.destroy());
  raw.socket.setNoDelay(true);
  const message = grpcMessage(Buffer.alloc(3000, 0x62));
  const bytesOut = Buffer.concat([frame(T.HEADERS, 0x4, 1, requestBlock()), frame(T.DATA, 0x1, 1, message)]);
  for (let at = 0, size = 1, piece = 0; at < bytesOut.length; at += size, size = (size % 7) + 1, piece++) {
    raw.write(bytesOut.subarray(at, at + size));
    // A turn of the event loop every few pieces, so the server reads many small chunks.
    if (piece % 4 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  const frames = await raw.until('the response', (f) => f.some((x) => x.type === T.HEADERS && x.streamId === 1 && (x.flags & 1) === 1));
  const body = Buffer.concat(frames.filter((x) => x.type === T.DATA && x.streamId === 1).map((x) => x.payload));
  t.same(body, message, 'the 3,000-byte message is echoed whole');
});
