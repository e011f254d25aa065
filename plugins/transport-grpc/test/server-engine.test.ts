import { connect, constants } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { Code, RpcError } from '@trellis/core';
import { waitFor } from '@trellis/testkit';
import t from 'tap';
import { binaryMetadata, setBinaryMetadata, type GrpcServerCall } from '../src/index.js';
import { bytes, startEngine, text } from './fixtures/engine.js';
import { frame, FrameType, parseFrames } from './fixtures/h2-frames.js';

const echo = { kind: 'unary' as const, handle: (call: GrpcServerCall) => call.request };

/** A bare node:http2 request, to look at exactly what the server puts on the wire. */
function rawRequest(port: number, path: string, body: Buffer, headers: Record<string, string> = {}) {
  return new Promise<{ headers: Record<string, unknown>; trailers: Record<string, unknown>; data: Buffer; endStreamInHeaders: boolean }>((resolve, reject) => {
    const session = connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    let responseHeaders: Record<string, unknown> = {};
    let trailers: Record<string, unknown> = {};
    let endStreamInHeaders = false;
    const chunks: Buffer[] = [];
    stream.on('response', (h, flags) => {
      responseHeaders = h;
      endStreamInHeaders = (flags & constants.NGHTTP2_FLAG_END_STREAM) !== 0;
    });
    stream.on('trailers', (h) => (trailers = h));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('close', () => {
      session.close();
      resolve({ headers: responseHeaders, trailers, data: Buffer.concat(chunks), endStreamInHeaders });
    });
    stream.end(body);
  });
}

function frameOf(message: Buffer, flag = 0): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out[0] = flag;
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

t.test('metadata both ways: ASCII and -bin, protocol headers hidden, reserved keys refused', async (t) => {
  const { target, client, reports } = await startEngine(t, {
    Echo: {
      kind: 'unary',
      handle(call) {
        call.responseHeaders.set('x-seen', [...call.metadata.keys()].sort().join(','));
        call.responseHeaders.set('x-ascii', call.metadata.get('x-ascii') ?? '');
        call.trailers.set('x-blob-bin', call.metadata.get('x-blob-bin') ?? '');
        return call.request;
      },
    },
    BadTrailer: {
      kind: 'unary',
      handle(call) {
        call.trailers.set('grpc-status', '0');
        call.trailers.set('x-fine', 'yes');
        return call.request;
      },
    },
  });
  const metadata = setBinaryMetadata(new Map([['x-ascii', 'hello world']]), 'x-blob-bin', Buffer.from([0, 1, 2, 250, 255]));
  const response = await client.unary(target, '/test.Svc/Echo', bytes('m'), { metadata });
  t.equal(response.headers.get('x-ascii'), 'hello world');
  t.same(binaryMetadata(response.trailers, 'x-blob-bin'), Buffer.from([0, 1, 2, 250, 255]), 'binary bytes survive both ways');
  t.equal(response.headers.get('x-seen'), 'user-agent,x-ascii,x-blob-bin', 'handlers see application metadata only (no :path, te, content-type, grpc-*)');

  for (const key of ['grpc-timeout', 'content-type', ':path', 'te', 'Upper', 'x-bad value']) {
    const error = await client.unary(target, '/test.Svc/Echo', bytes('m'), { metadata: new Map([[key, 'v']]) }).catch((e: RpcError) => e);
    t.match(error, { code: Code.INVALID_ARGUMENT, mayHaveRun: false }, `client refuses metadata key ${JSON.stringify(key)} before sending`);
  }
  const badValue = await client.unary(target, '/test.Svc/Echo', bytes('m'), { metadata: new Map([['x-nl', 'a\nb']]) }).catch((e: RpcError) => e);
  t.match(badValue, { code: Code.INVALID_ARGUMENT, mayHaveRun: false }, 'a non-printable ASCII value is refused');

  const trailerResponse = await client.unary(target, '/test.Svc/BadTrailer', bytes('m'));
  t.equal(trailerResponse.trailers.get('x-fine'), undefined, 'trailers with a reserved key are not sent as given');
  t.match(reports.join('\n'), /reserved/, 'and the handler mistake is reported');
});

t.test('grpc-timeout becomes the handler deadline; when it passes the server answers DEADLINE_EXCEEDED and aborts the handler', async (t) => {
  let seen: { timeoutMs: number; remaining: number } | undefined;
  let abortReason: unknown;
  const { port } = await startEngine(t, {
    Slow: {
      kind: 'unary',
      handle(call) {
        seen = { timeoutMs: call.timeoutMs, remaining: call.deadline - performance.now() };
        return new Promise((resolve) => call.signal.addEventListener('abort', () => {
          abortReason = call.signal.reason;
          resolve(bytes('late'));
        }));
      },
    },
  });
  // A bare request, so no client-side timer races the server's deadline.
  const response = await rawRequest(port, '/test.Svc/Slow', frameOf(bytes('x')), { 'grpc-timeout': '300m' });
  t.equal(response.headers['grpc-status'], String(Code.DEADLINE_EXCEEDED), 'the server ends the call with DEADLINE_EXCEEDED');
  t.equal(seen!.timeoutMs, 300, 'the handler sees the timeout sent in grpc-timeout');
  t.ok(seen!.remaining > 0 && seen!.remaining <= 300, 'and a deadline within it');
  t.match(abortReason, { code: Code.DEADLINE_EXCEEDED }, "the handler's signal aborts with DEADLINE_EXCEEDED");
});

t.test('a client deadline: grpc-timeout is sent, DEADLINE_EXCEEDED locally, the server handler is cancelled', async (t) => {
  let reason: unknown;
  const { target, client } = await startEngine(t, {
    Slow: { kind: 'unary', handle: (call) => new Promise((resolve) => call.signal.addEventListener('abort', () => resolve((reason = call.signal.reason, bytes('late'))))) },
  });
  const error = await client.unary(target, '/test.Svc/Slow', bytes('x'), { timeoutMs: 100 }).catch((e: RpcError) => e);
  t.match(error, { code: Code.DEADLINE_EXCEEDED, mayHaveRun: true });
  await waitFor(() => reason !== undefined, { timeoutMs: 5000, what: 'the handler to be aborted' });
  t.ok(reason instanceof RpcError, 'the handler is aborted (by the RST_STREAM or its own deadline, whichever came first)');
});

t.test('Trailers-Only responses; status and percent-encoded grpc-message in trailers', async (t) => {
  const { port } = await startEngine(t, {
    Fail: { kind: 'unary', handle: () => Promise.reject(new RpcError(Code.NOT_FOUND, 'no ☺ 100%\n')) },
    Ok: echo,
  });
  const unknown = await rawRequest(port, '/test.Svc/Nope', frameOf(bytes('x')));
  t.equal(unknown.endStreamInHeaders, true, 'an unknown method is answered with a Trailers-Only response');
  t.equal(unknown.headers['grpc-status'], String(Code.UNIMPLEMENTED));
  t.equal(unknown.headers['content-type'], 'application/grpc');

  const failed = await rawRequest(port, '/test.Svc/Fail', frameOf(bytes('x')));
  t.equal(failed.headers['grpc-status'], String(Code.NOT_FOUND), 'an error before any message is Trailers-Only');
  t.equal(failed.headers['grpc-message'], 'no %E2%98%BA 100%25%0A', 'grpc-message is percent-encoded UTF-8');

  const ok = await rawRequest(port, '/test.Svc/Ok', frameOf(bytes('hi')));
  t.equal(ok.endStreamInHeaders, false);
  t.equal(ok.trailers['grpc-status'], '0', 'a normal response carries its status in trailers');
  t.same(ok.data, frameOf(bytes('hi')), 'with the length-prefixed message');

  const notGrpc = await rawRequest(port, '/test.Svc/Ok', frameOf(bytes('x')), { 'content-type': 'application/json' });
  t.equal(notGrpc.headers[':status'], 415, 'a non-gRPC content-type gets HTTP 415');
});

t.test('compression: gzip both ways, unknown encodings refused, compressed flag without an encoding is INTERNAL', async (t) => {
  const { port, target, client } = await startEngine(t, {
    Echo: {
      kind: 'unary',
      handle(call) {
        call.setCompression('gzip');
        call.responseHeaders.set('x-request-compressed', String(call.requestCompressed));
        return call.request;
      },
    },
  });
  const big = Buffer.alloc(100_000, 'a');
  const response = await client.unary(target, '/test.Svc/Echo', big, { compression: 'gzip' });
  t.equal(response.headers.get('x-request-compressed'), 'true', 'the server saw the compressed flag');
  t.equal(response.compressed, true, 'the response came back compressed');
  t.same(response.message, big, 'and decompressed intact');

  const snappy = await rawRequest(port, '/test.Svc/Echo', frameOf(bytes('x')), { 'grpc-encoding': 'snappy' });
  t.equal(snappy.headers['grpc-status'], String(Code.UNIMPLEMENTED), 'an unknown grpc-encoding is UNIMPLEMENTED');
  t.match(snappy.headers['grpc-accept-encoding'], /gzip/, 'and the server says what it accepts');

  const flagged = await rawRequest(port, '/test.Svc/Echo', frameOf(bytes('x'), 1));
  t.equal(flagged.headers['grpc-status'], String(Code.INTERNAL), 'the compressed flag without grpc-encoding is INTERNAL (spec)');

  const corrupt = await rawRequest(port, '/test.Svc/Echo', frameOf(bytes('not gzip'), 1), { 'grpc-encoding': 'gzip' });
  t.equal(corrupt.headers['grpc-status'], String(Code.INTERNAL), 'a corrupt compressed message is INTERNAL');
});

t.test('message size limits: RESOURCE_EXHAUSTED on both sides, compressed bombs included', async (t) => {
  const { port, target, client } = await startEngine(t, {
    Echo: echo,
    Big: { kind: 'unary', handle: () => Buffer.alloc(2000) },
  }, { maxReceiveMessageSize: 1000 }, { maxReceiveMessageSize: 1500 });
  const tooBig = await client.unary(target, '/test.Svc/Echo', Buffer.alloc(1001)).catch((e: RpcError) => e);
  t.match(tooBig, { code: Code.RESOURCE_EXHAUSTED }, 'a request over the server limit');
  const bomb = await client.unary(target, '/test.Svc/Echo', Buffer.alloc(1_000_000), { compression: 'gzip' }).catch((e: RpcError) => e);
  t.match(bomb, { code: Code.RESOURCE_EXHAUSTED }, 'a small gzip message that inflates past the limit');
  const answer = await client.unary(target, '/test.Svc/Big', bytes('x')).catch((e: RpcError) => e);
  t.match(answer, { code: Code.RESOURCE_EXHAUSTED }, 'a response over the client limit');
  const huge = Buffer.alloc(5 + 8);
  huge.writeUInt32BE(0xffffffff, 1);
  const raw = await rawRequest(port, '/test.Svc/Echo', huge);
  t.equal(raw.headers['grpc-status'], String(Code.RESOURCE_EXHAUSTED), 'a length prefix of 4 GiB is refused before anything is buffered');
  t.equal(text((await client.unary(target, '/test.Svc/Echo', bytes('still fine'))).message), 'still fine');
});

t.test('flow control: a producer awaiting send() is paused by a client that does not read', async (t) => {
  let sent = 0;
  let finished = false;
  const { target, client } = await startEngine(t, {
    Flood: {
      kind: 'server-streaming',
      async handle(call) {
        const chunk = Buffer.alloc(8 * 1024);
        for (let i = 0; i < 1000; i++) {
          await call.send(chunk);
          sent++;
        }
        finished = true;
      },
    },
  }, {}, { receiveHighWaterBytes: 64 * 1024 });
  const stream = client.serverStream(target, '/test.Svc/Flood', bytes(''));
  const iterator = stream[Symbol.asyncIterator]();
  await iterator.next();
  // Wait until the producer stops making progress: it must stall far below 1000 × 8 KiB.
  let last = -1;
  await waitFor(() => {
    const stalled = sent === last;
    last = sent;
    return stalled && sent > 0;
  }, { timeoutMs: 10_000, what: 'the producer to stall' });
  // A producer that ignored flow control would run to the end in this time; one that honours it stays put.
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.ok(sent < 100, `the producer is held back by flow control (${sent} of 1000 messages sent)`);
  t.notOk(finished);
  let received = 1;
  for (;;) {
    const next = await iterator.next();
    if (next.done) break;
    received++;
  }
  t.equal(received, 1000, 'reading resumes the producer; every message arrives');
  t.ok(finished);
});

t.test('flow control: a handler that does not read pauses a streaming client', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const { target, client } = await startEngine(t, {
    Sink: {
      kind: 'client-streaming',
      async handle(call) {
        await gate;
        let n = 0;
        for await (const _ of call.requests) n++;
        return bytes(String(n));
      },
    },
  }, { receiveHighWaterBytes: 64 * 1024 });
  let produced = 0;
  const requests = (async function* () {
    for (let i = 0; i < 1000; i++) {
      produced++;
      yield Buffer.alloc(8 * 1024);
    }
  })();
  const result = client.clientStream(target, '/test.Svc/Sink', requests);
  let last = -1;
  await waitFor(() => {
    const stalled = produced === last;
    last = produced;
    return stalled && produced > 0;
  }, { timeoutMs: 10_000, what: 'the client to stall' });
  await new Promise((resolve) => setTimeout(resolve, 200));
  t.ok(produced < 100, `the client's producer waits on the server's flow control (${produced} of 1000)`);
  release();
  t.equal(text((await result).message), '1000', 'once the handler reads, everything arrives');
});

t.test('cancellation: the client resets the stream, the handler sees CANCELLED and its sends fail', async (t) => {
  let reason: unknown;
  let sendError: unknown;
  const { target, client, server } = await startEngine(t, {
    Ticks: {
      kind: 'server-streaming',
      async handle(call) {
        call.signal.addEventListener('abort', () => (reason = call.signal.reason));
        try {
          for (;;) {
            await call.send(bytes('tick'));
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        } catch (error) {
          sendError = error;
        }
      },
    },
  });
  const controller = new AbortController();
  const stream = client.serverStream(target, '/test.Svc/Ticks', bytes(''), { signal: controller.signal });
  for await (const _ of stream) {
    controller.abort();
    break;
  }
  const status = await stream.status;
  t.equal(status.code, Code.CANCELLED);
  await waitFor(() => sendError !== undefined, { timeoutMs: 5000, what: 'the handler to notice' });
  t.match(reason, { code: Code.CANCELLED }, "the handler's signal aborts with CANCELLED");
  t.match(sendError, { code: Code.CANCELLED }, 'its pending send rejects');
  await waitFor(() => server.activeCalls === 0, { timeoutMs: 5000, what: 'the call to be released' });
});

t.test('graceful stop: calls in flight finish, new calls are refused as never run, stragglers get UNAVAILABLE', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const started: string[] = [];
  const { target, client, server } = await startEngine(t, {
    Wait: {
      kind: 'unary',
      async handle(call) {
        started.push(text(call.request));
        await gate;
        return call.request;
      },
    },
    Hang: { kind: 'unary', handle: (call) => new Promise((resolve) => call.signal.addEventListener('abort', () => resolve(call.request))) },
  });
  const inFlight = client.unary(target, '/test.Svc/Wait', bytes('first'));
  const hanging = client.unary(target, '/test.Svc/Hang', bytes('hang'));
  await waitFor(() => started.length === 1 && server.activeCalls === 2, { timeoutMs: 5000, what: 'calls to start' });
  server.goAway();
  t.equal(server.connectionCount, 1);
  const refused = await client.unary(target, '/test.Svc/Wait', bytes('second')).catch((e: RpcError) => e);
  t.match(refused, { code: Code.UNAVAILABLE, mayHaveRun: false }, 'a call after GOAWAY is refused and provably never ran');
  t.same(started, ['first'], 'the refused call never reached a handler');
  release();
  t.equal(text((await inFlight).message), 'first', 'the call in flight completes after GOAWAY');
  const closing = server.close(300);
  const straggler = await hanging.catch((e: RpcError) => e);
  t.match(straggler, { code: Code.UNAVAILABLE }, 'a call still running after the grace period ends with UNAVAILABLE');
  await closing;
  t.equal(server.connectionCount, 0, 'every connection is closed');
});

t.test('keepalive: pings are answered; a ping flood is refused with GOAWAY ENHANCE_YOUR_CALM', async (t) => {
  const { port, target, client, reports, server } = await startEngine(t, { Echo: echo }, { minPingIntervalMs: 1000, maxPingStrikes: 2 });
  const rtt = await client.channel(target).ping(5000);
  t.ok(rtt >= 0, 'a PING is answered');
  const session = connect(`http://127.0.0.1:${port}`);
  session.on('error', () => undefined);
  const goaway = new Promise<number>((resolve) => session.on('goaway', (code) => resolve(code)));
  await new Promise((resolve) => session.once('connect', resolve));
  for (let i = 0; i < 10; i++) session.ping(() => undefined);
  t.equal(await goaway, constants.NGHTTP2_ENHANCE_YOUR_CALM, 'the flooding connection gets ENHANCE_YOUR_CALM');
  await waitFor(() => session.destroyed || session.closed, { timeoutMs: 5000, what: 'the flooder to be disconnected' });
  t.match(reports.join('\n'), /too many pings/);
  t.equal(text((await client.unary(target, '/test.Svc/Echo', bytes('ok'))).message), 'ok', 'other clients are served on');
  t.equal(server.connectionCount, 1);
});

t.test('keepalive: a connection nghttp2 ended with GOAWAY (node leaves it open) is reaped by the next unanswered PING', async (t) => {
  const { port, target, client, reports, server } = await startEngine(t, { Echo: echo }, { keepaliveTimeMs: 200, engine: 'node:http2' });
  t.equal(text((await client.unary(target, '/test.Svc/Echo', bytes('ok'))).message), 'ok');
  const attacker = netConnect(port, '127.0.0.1');
  attacker.on('error', () => undefined);
  t.teardown(() => attacker.destroy());
  let received = Buffer.alloc(0);
  const goaway = new Promise<void>((resolve) => attacker.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    if (parseFrames(received).some((f) => f.type === 7 /* GOAWAY */)) resolve();
  }));
  await new Promise((resolve) => attacker.once('connect', resolve));
  // HEADERS on stream 1 whose header block is not valid HPACK: a connection error (COMPRESSION_ERROR).
  attacker.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(FrameType.SETTINGS, 0, 0), frame(1, 0x4, 1, Buffer.from([0xff, 0xff, 0xff, 0xff]))]));
  await goaway;
  t.equal(server.connectionCount, 2, 'after its GOAWAY the broken connection is still counted (node sends no event)');
  await waitFor(() => server.connectionCount === 1, { timeoutMs: 10_000, what: 'the broken connection to be reaped' });
  t.match(reports.join('\n'), /did not answer a keepalive PING/);
  t.equal(text((await client.unary(target, '/test.Svc/Echo', bytes('still'))).message), 'still', 'the healthy client, which answers PINGs, is served on');
});
