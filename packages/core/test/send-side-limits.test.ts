import { createServer } from 'node:net';
import t, { type Test } from 'tap';
import {
  Code, MemoryRegistry, RpcClient, RpcError, RpcServer, type RpcServerOptions, type ServerInvocation, type TcpClientOptions,
} from '../src/index.js';
import { ECHO } from './fixtures/json-service.js';
import { RawPeer, responseHeader, settingsFrame } from './fixtures/raw-peer.js';
import { encodeRequestFrame, encodeResponseFrame } from '../src/transport/header-codec.js';

/** What a handler may be asked to produce: oversized errors, trailers and bodies. */
interface Ask {
  message?: string;
  delayMs?: number;
  failWith?: number; // length of an error message built from the input
  trailers?: { count: number; size: number };
  bodyBytes?: number;
  badTrailer?: boolean;
}

/** A server whose handler produces whatever it is asked to; records unhandled rejections. */
async function startServer(t: Test, options: RpcServerOptions = {}) {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  const stats = { calls: 0 };
  const handler = async (request: Ask, call: ServerInvocation) => {
    stats.calls++;
    if (request.delayMs) await new Promise((r) => setTimeout(r, request.delayMs));
    if (request.trailers) {
      for (let i = 0; i < request.trailers.count; i++) call.responseMetadata.set(`t${i}`, 'x'.repeat(request.trailers.size));
    }
    if (request.badTrailer) call.responseMetadata.set('bad', 42 as unknown as string);
    if (request.failWith) {
      const trailers = request.trailers ? call.responseMetadata : undefined;
      throw new RpcError(Code.INVALID_ARGUMENT, `bad input: ${'y'.repeat(request.failWith)}`, { metadata: trailers });
    }
    return { message: request.bodyBytes ? 'z'.repeat(request.bodyBytes) : request.message };
  };
  const server = new RpcServer({ host: '127.0.0.1', registry: new MemoryRegistry(), ...options });
  server.addService(ECHO, { echo: handler, mutate: handler });
  await server.start();
  t.teardown(async () => {
    await server.close({ graceMs: 1000 });
    process.off('unhandledRejection', onUnhandled);
  });
  return { server, stats, unhandled, address: `127.0.0.1:${server.port}` };
}

function client(t: Test, address: string, tcp: TcpClientOptions = {}) {
  const c = new RpcClient({ service: ECHO, addresses: [address], transparentRetries: 0, timeoutMs: 10_000, tcp });
  t.teardown(() => c.close());
  return c;
}

/** 50 calls in flight on the same connection, all of which must succeed whatever fails beside them. */
function bystanders(c: RpcClient, n = 50) {
  return Promise.all(Array.from({ length: n }, (_, i) => c.invoke('Echo', { message: `bystander ${i}`, delayMs: 30 })));
}

const failure = (promise: Promise<unknown>) => promise.then(() => { throw new Error('expected the call to fail'); }, (e: unknown) => e as RpcError);

t.test('a request header of 64 KiB or more fails that call only, never sent, naming the limit', async (t) => {
  const { stats, address } = await startServer(t);
  const c = client(t, address);
  await c.invoke('Echo', {});
  const others = bystanders(c);
  const token = 'k'.repeat(70_000);
  const error = await failure(c.invoke('Echo', {}, { metadata: { authorization: token } }));
  t.equal(error.code, Code.RESOURCE_EXHAUSTED);
  t.equal(error.mayHaveRun, false, 'nothing was sent');
  t.match(error.message, /request header \(method and metadata\) of \d+ bytes exceeds the peer's limit of 16384 \(maxHeaderSize\)/);
  t.equal((await others).length, 50, 'the 50 calls in flight beside it all succeeded');
  t.equal(stats.calls, 51, 'the server never saw the refused call');
});

t.test('a request body over the server\'s maxBodySize fails that call only, never sent', async (t) => {
  const { stats, address } = await startServer(t, { tcp: { limits: { maxBodySize: 64 * 1024 } } });
  const c = client(t, address);
  await c.invoke('Echo', {});
  const others = bystanders(c);
  const error = await failure(c.invoke('Echo', { message: 'm'.repeat(100_000) }));
  t.equal(error.code, Code.RESOURCE_EXHAUSTED);
  t.equal(error.mayHaveRun, false);
  t.match(error.message, /request body of \d+ bytes exceeds the peer's limit of 65536 \(maxBodySize\)/);
  t.equal((await others).length, 50);
  t.equal(stats.calls, 51);
});

t.test('a handler error message of 70 KB: the provider survives, the caller gets it truncated with a marker', async (t) => {
  const { unhandled, address } = await startServer(t);
  const c = client(t, address);
  await c.invoke('Echo', {});
  const others = bystanders(c);
  const error = await failure(c.invoke('Echo', { failWith: 70_000 }));
  t.equal(error.code, Code.INVALID_ARGUMENT, 'the handler\'s status is kept');
  t.match(error.message, /^bad input: y+ … \[message truncated from 70011 bytes to fit the client's maxHeaderSize of 16384\]$/);
  t.ok(Buffer.byteLength(error.message) < 16384);
  t.equal((await others).length, 50, 'the calls beside it succeeded');
  t.same(unhandled, [], 'no unhandled rejection');
  t.match(await c.invoke('Echo', { message: 'still up' }), { message: 'still up' }, 'the provider keeps serving');
});

t.test('an error message over the client\'s own smaller limit is fitted to it (20 KB vs 16 KiB, and vs 2 KiB)', async (t) => {
  const { address } = await startServer(t);
  for (const maxHeaderSize of [16 * 1024, 2048]) {
    const c = client(t, address, { limits: { maxHeaderSize } });
    await c.invoke('Echo', {});
    const others = bystanders(c);
    const error = await failure(c.invoke('Echo', { failWith: 20_000 }));
    t.equal(error.code, Code.INVALID_ARGUMENT);
    t.match(error.message, new RegExp(`truncated from 20011 bytes to fit the client's maxHeaderSize of ${maxHeaderSize}`));
    t.equal((await others).length, 50, `maxHeaderSize ${maxHeaderSize}: the 50 unrelated calls succeeded`);
  }
});

t.test('trailers too big or too many are cut with a marker trailer; the body still arrives', async (t) => {
  const { address, unhandled } = await startServer(t);
  const c = client(t, address, { limits: { maxMetadataEntries: 10 } });
  const big = await c.invokeWithResult('Echo', { message: 'big trailers', trailers: { count: 40, size: 1000 } });
  t.equal((big.response as { message: string }).message, 'big trailers');
  t.ok(big.metadata.size < 11, `${big.metadata.size} trailers kept`);
  t.match(big.metadata.get('trellis-trailers-truncated'), /of 40 trailers dropped/);
  const many = await c.invokeWithResult('Echo', { message: 'many trailers', trailers: { count: 30, size: 1 } });
  t.equal(many.metadata.size, 10, 'the client\'s maxMetadataEntries, marker included');
  t.match(many.metadata.get('trellis-trailers-truncated'), /21 of 30 trailers dropped/);
  const error = await failure(c.invoke('Echo', { failWith: 10, trailers: { count: 100, size: 500 } }));
  t.equal(error.code, Code.INVALID_ARGUMENT);
  t.match(error.metadata?.get('trellis-trailers-truncated'), /trailers dropped/);
  const bad = await failure(c.invoke('Echo', { badTrailer: true }));
  t.equal(bad.code, Code.INTERNAL, 'a trailer that cannot be encoded: INTERNAL, still an answer');
  t.match(bad.message, /could not encode its answer/);
  t.same(unhandled, []);
});

t.test('a response body over the client\'s maxBodySize fails that call only (it ran); the others succeed', async (t) => {
  const { address } = await startServer(t);
  const c = client(t, address, { limits: { maxBodySize: 64 * 1024 } });
  await c.invoke('Echo', {});
  const others = bystanders(c);
  const error = await failure(c.invoke('Echo', { bodyBytes: 100_000 }));
  t.equal(error.code, Code.RESOURCE_EXHAUSTED);
  t.equal(error.mayHaveRun, true, 'the handler ran');
  t.match(error.message, /response of \d+ bytes exceeds the client's limit of 65536 \(maxBodySize\)/);
  t.equal((await others).length, 50);
});

t.test('a server that ignores the client\'s limits: the oversized response fails its call alone', async (t) => {
  // A fake server: handshakes, then answers stream 1 with a body over the client's limit and
  // stream 2 normally, on the same connection.
  const fake = createServer((socket) => {
    let seen = 0;
    socket.on('data', (chunk) => {
      if (seen++ === 0) socket.write(settingsFrame());
      for (let offset = 0; offset + 16 <= chunk.length; offset += 16 + chunk.readUInt16BE(offset + 6) + chunk.readUInt32BE(offset + 12)) {
        if (chunk[offset + 3] !== 1) continue;
        const id = chunk.readUInt32BE(offset + 8);
        const body = Buffer.from(JSON.stringify({ message: id === 1 ? 'x'.repeat(200_000) : 'fine' }));
        socket.write(encodeResponseFrame(2, id, 0, '', false, undefined, body));
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
  t.teardown(() => fake.close());
  const c = client(t, `127.0.0.1:${(fake.address() as { port: number }).port}`, { limits: { maxBodySize: 64 * 1024 } });
  const [first, second] = await Promise.allSettled([c.invoke('Echo', {}), c.invoke('Echo', {})]);
  t.equal(first.status, 'rejected');
  t.equal(((first as PromiseRejectedResult).reason as RpcError).code, Code.RESOURCE_EXHAUSTED);
  t.match(((first as PromiseRejectedResult).reason as RpcError).message, /refused: frame body of \d+ bytes exceeds the limit of 65536 \(maxBodySize\)/);
  t.match((second as PromiseFulfilledResult<unknown>).value, { message: 'fine' }, 'the next response on the same connection arrived');
});

t.test('UNIMPLEMENTED for a service name that expands past 64 KiB (invalid UTF-8) is answered, truncated', async (t) => {
  const { server } = await startServer(t);
  const peer = await RawPeer.connect(server.port);
  t.teardown(() => peer.destroy());
  // 15,000 bytes of 0xff decode to 15,000 U+FFFD: 45,000 bytes in the answer, over the client's 16 KiB.
  const frame = encodeRequestFrame(1, { group: 'default', service: 'x', version: '', method: 'Echo', timeoutMs: 1000, attempt: 1, metadata: new Map() }, Buffer.from('{}'));
  const header = frame.subarray(16, 16 + frame.readUInt16BE(6));
  const service = Buffer.concat([Buffer.from([0x0a, 0x98, 0x75]), Buffer.alloc(15_000, 0xff)]); // field 1, length 15000
  const patched = Buffer.concat([service, header.subarray(3)]);
  const fixed = Buffer.from(frame.subarray(0, 16));
  fixed.writeUInt16BE(patched.length, 6);
  peer.write(Buffer.concat([fixed, patched, frame.subarray(16 + header.length)]));
  const answer = responseHeader(await peer.response(1));
  t.equal(answer.code, Code.UNIMPLEMENTED);
  t.equal(answer.notExecuted, true);
  t.match(answer.message, /message truncated/);
});
