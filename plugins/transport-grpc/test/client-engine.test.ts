import { createServer as createHttp2Server } from 'node:http2';
import { connect, createServer, type Socket } from 'node:net';
import { Code, RpcError } from '@trellis/core';
import { waitFor } from '@trellis/testkit';
import t from 'tap';
import { detectProtocol, GrpcClient, GrpcServer, GrpcServiceRegistry, HTTP2_PREFACE, parseGrpcTarget, type GrpcServerCall } from '../src/index.js';
import { bytes, startEngine, text } from './fixtures/engine.js';
import { Flag, frame, FrameType, parseFrames } from './fixtures/h2-frames.js';

const echo = { kind: 'unary' as const, handle: (call: GrpcServerCall) => call.request };

t.test('targets: host:port, [v6]:port, grpc:// and grpcs://; malformed ones are refused', async (t) => {
  t.same(parseGrpcTarget('127.0.0.1:50051'), { host: '127.0.0.1', port: 50051, tls: false });
  t.same(parseGrpcTarget('[::1]:443'), { host: '::1', port: 443, tls: false });
  t.same(parseGrpcTarget('grpc://svc.local:80'), { host: 'svc.local', port: 80, tls: false });
  t.same(parseGrpcTarget('grpcs://svc.local:443'), { host: 'svc.local', port: 443, tls: true });
  for (const bad of ['http://x:1', 'x', 'x:0', 'x:70000', 'grpc://x']) {
    t.throws(() => parseGrpcTarget(bad), { code: 'ERR_INVALID_OPTION' }, `refuses ${bad}`);
  }
});

t.test('calls share one HTTP/2 connection per target', async (t) => {
  const { target, client, server } = await startEngine(t, { Echo: echo });
  const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => client.unary(target, '/test.Svc/Echo', bytes(String(i)))));
  t.same(answers.map((a) => text(a.message)), Array.from({ length: 50 }, (_, i) => String(i)));
  t.equal(server.connectionCount, 1, '50 concurrent calls, one connection');
});

t.test('a refused connection fails UNAVAILABLE, never ran; during backoff calls fail fast the same way', async (t) => {
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
  const states: string[] = [];
  const client = new GrpcClient({ backoff: { initialMs: 60_000, maxMs: 60_000 }, onStateChange: (_target, state) => states.push(state) });
  t.teardown(() => client.close());
  const first = await client.unary(`127.0.0.1:${port}`, '/test.Svc/Echo', bytes('x')).catch((e: RpcError) => e);
  t.match(first, { code: Code.UNAVAILABLE, mayHaveRun: false }, 'nothing left the process: safe to send elsewhere');
  const second = await client.unary(`127.0.0.1:${port}`, '/test.Svc/Echo', bytes('x')).catch((e: RpcError) => e);
  t.match(second, { code: Code.UNAVAILABLE, mayHaveRun: false, message: /next attempt in/ }, 'the channel is backing off');
  t.same(states, ['connecting', 'backoff'], 'state changes are reported');
});

t.test('a connection dropped mid-call is UNAVAILABLE that may have run', async (t) => {
  let started = false;
  const { target, client, server } = await startEngine(t, {
    Hang: { kind: 'unary', handle: () => ((started = true), new Promise<Uint8Array>(() => undefined)) },
  });
  const call = client.unary(target, '/test.Svc/Hang', bytes('x')).catch((e: RpcError) => e);
  await waitFor(() => started, { timeoutMs: 5000, what: 'the handler to start' });
  await server.close(0);
  t.match(await call, { code: Code.UNAVAILABLE, mayHaveRun: true });
});

t.test('a response without grpc-status maps its HTTP status to a gRPC code', async (t) => {
  // A proxy or a non-gRPC server: plain HTTP/2 answers, no trailers.
  const plain = createHttp2Server((request, response) => {
    if (request.url === '/busy/Call') response.writeHead(503).end('overloaded');
    else response.writeHead(200, { 'content-type': 'text/html' }).end('<html>');
  });
  await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
  const { port } = plain.address() as { port: number };
  const client = new GrpcClient();
  t.teardown(async () => {
    client.close();
    await new Promise((resolve) => plain.close(resolve));
  });
  t.match(await client.unary(`127.0.0.1:${port}`, '/busy/Call', bytes('x')).catch((e: RpcError) => e), { code: Code.UNAVAILABLE, message: /HTTP 503/ });
  t.match(await client.unary(`127.0.0.1:${port}`, '/page/Call', bytes('x')).catch((e: RpcError) => e), { code: Code.UNKNOWN, message: /not a gRPC content-type/ });
});

t.test('protocol detection hands an HTTP/2 connection to the engine; Trellis magic and garbage are told apart', async (t) => {
  const engine = new GrpcServer(new GrpcServiceRegistry().add('test.Svc', { Echo: echo }));
  const seen: string[] = [];
  const native = new Set<Socket>();
  const shared = createServer((socket) => {
    void detectProtocol(socket, 2000).then((protocol) => {
      seen.push(protocol);
      if (protocol === 'http2') return engine.handleConnection(socket);
      // Stand-in for the native transport: it answers with the first bytes it reads.
      native.add(socket);
      socket.once('data', (chunk: Buffer) => socket.end(`${protocol}:${chunk.subarray(0, 4).toString('latin1')}`));
      socket.resume();
    });
  });
  await new Promise<void>((resolve) => shared.listen(0, '127.0.0.1', resolve));
  const { port } = shared.address() as { port: number };
  const client = new GrpcClient();
  t.teardown(async () => {
    client.close();
    await engine.close(100);
    await new Promise((resolve) => shared.close(resolve));
  });
  const answer = await client.unary(`127.0.0.1:${port}`, '/test.Svc/Echo', bytes('through the shared port'));
  t.equal(text(answer.message), 'through the shared port', 'a gRPC call on the shared port reaches the engine');
  t.equal(engine.connectionCount, 1);
  const rawAnswer = async (payload: Buffer) => new Promise<string>((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      // Split in two writes: detection must not depend on the first chunk's size.
      socket.write(payload.subarray(0, 1));
      setImmediate(() => socket.write(payload.subarray(1)));
    });
    let out = '';
    socket.on('data', (c: Buffer) => (out += c.toString('latin1')));
    socket.on('close', () => resolve(out));
  });
  t.equal(await rawAnswer(Buffer.from('TR\x01\x01rest')), 'trellis:TR\x01\x01', 'the Trellis magic is detected and its bytes are put back for the native side');
  t.equal(await rawAnswer(Buffer.from('GET / HTTP/1.1\r\n\r\n')), 'unknown:GET ', 'anything else is unknown');
  t.same(seen, ['http2', 'trellis', 'unknown']);
});

t.test('client keepalive: PINGs go out on an idle connection; a peer that stops answering is dropped', async (t) => {
  // A fake HTTP/2 server: it completes the handshake (SETTINGS both ways) and counts PINGs, answering
  // them only while `answering` is true.
  let pings = 0;
  let answering = true;
  const sockets = new Set<Socket>();
  const fake = createServer((socket) => {
    sockets.add(socket);
    let buffered = Buffer.alloc(0);
    let prefaceSeen = false;
    socket.write(frame(FrameType.SETTINGS, 0, 0));
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!prefaceSeen) {
        if (buffered.length < HTTP2_PREFACE.length) return;
        buffered = buffered.subarray(HTTP2_PREFACE.length);
        prefaceSeen = true;
      }
      const frames = parseFrames(buffered);
      buffered = buffered.subarray(frames.reduce((n, f) => n + 9 + f.payload.length, 0));
      for (const f of frames) {
        if (f.type === FrameType.SETTINGS && !(f.flags & Flag.ACK)) socket.write(frame(FrameType.SETTINGS, Flag.ACK, 0));
        if (f.type === FrameType.PING && !(f.flags & Flag.ACK)) {
          pings++;
          if (answering) socket.write(frame(FrameType.PING, Flag.ACK, 0, f.payload));
        }
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
  const { port } = fake.address() as { port: number };
  const states: string[] = [];
  // A 2 s PING timeout, not 300 ms: the fake peer answers from this same process, so a stall of it
  // (a loaded machine) past the timeout fires the timer before the PONG waiting on the socket is read,
  // and the connection was dropped while the peer still answered (the count of three below then never
  // came). Once the peer stops answering, the connection is still dropped well inside the 10 s wait.
  const client = new GrpcClient({ keepaliveIntervalMs: 50, keepaliveTimeoutMs: 2000, onStateChange: (_target, state) => states.push(state) });
  t.teardown(async () => {
    client.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => fake.close(resolve));
  });
  const channel = client.channel(`127.0.0.1:${port}`);
  channel.connection();
  await waitFor(() => pings >= 3, { timeoutMs: 10_000, what: 'keepalive PINGs' });
  t.ok(pings >= 3, `${pings} keepalive PINGs on an idle connection`);
  answering = false;
  await waitFor(() => sockets.size === 0, { timeoutMs: 10_000, what: 'the client to drop the silent peer' });
  t.same(states.slice(0, 2), ['connecting', 'ready']);
  t.equal(states.at(-1), 'idle', 'the unanswered PING closed the connection');
});
