import { connect, createServer, type Socket } from 'node:net';
import t from 'tap';
import { RpcClient } from '../src/index.js';
import { ECHO, startEchoServer } from './fixtures/json-service.js';
import { encodeRequestFrame } from '../src/transport/header-codec.js';

/** Opens a raw socket, writes bytes, collects what comes back until the server closes it. */
function rawExchange(port: number, bytes: Buffer): Promise<{ closed: boolean; received: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host: '127.0.0.1', port }, () => socket.write(bytes));
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', () => { /* a reset is an acceptable way to close */ });
    socket.on('close', () => resolve({ closed: true, received: Buffer.concat(chunks) }));
    setTimeout(() => { socket.destroy(); reject(new Error('server did not close the connection')); }, 5000).unref();
  });
}

function fixedHeader(overrides: Partial<{ magic: number; version: number; type: number; headerLength: number; streamId: number; bodyLength: number }>): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16BE(overrides.magic ?? 0x5452, 0);
  b[2] = overrides.version ?? 1;
  b[3] = overrides.type ?? 1;
  b.writeUInt16BE(overrides.headerLength ?? 0, 6);
  b.writeUInt32BE(overrides.streamId ?? 1, 8);
  b.writeUInt32BE(overrides.bodyLength ?? 0, 12);
  return b;
}

t.test('bad frames close that connection only, with a reason, and the server keeps serving', async (t) => {
  const warnings: string[] = [];
  const { server, address } = await startEchoServer('a', { tcp: { onProtocolError: (_peer, message) => warnings.push(message), limits: { maxBodySize: 1024 * 1024 } } });
  const client = new RpcClient({ service: ECHO, addresses: [address] });
  t.teardown(async () => { await client.close(); await server.close(); });
  await client.invoke('Echo', { message: 'before' }); // a healthy connection that must survive

  const cases: [string, Buffer, RegExp][] = [
    ['garbage bytes', Buffer.from('\x00\x01garbage that is not a frame at all'), /bad magic/],
    ['wrong version', fixedHeader({ version: 9 }), /unsupported protocol version 9/],
    ['unknown frame type', fixedHeader({ type: 77 }), /unknown frame type 77/],
    ['oversized body announced', fixedHeader({ bodyLength: 500 * 1024 * 1024 }), /exceeds the limit of 1048576/],
    ['oversized header announced', fixedHeader({ headerLength: 60000 }), /header of 60000 bytes exceeds/],
    ['request header that is not protobuf', Buffer.concat([fixedHeader({ headerLength: 3 }), Buffer.from([0x0a, 0x50, 0x41])]), /malformed request header/],
    ['response frame sent by a client', fixedHeader({ type: 2 }), /unexpected frame type 2/],
  ];
  for (const [name, bytes, reason] of cases) {
    const { closed, received } = await rawExchange(server.port, bytes);
    t.ok(closed, `${name}: connection closed`);
    t.match(warnings.at(-1), reason, `${name}: reported as ${warnings.at(-1)}`);
    if (received.length >= 16) t.equal(received[3], 5, `${name}: a GOAWAY frame tells the peer why`);
  }
  t.equal(((await client.invoke('Echo', { message: 'after' })) as { message: string }).message, 'after', 'the other connection still works');
});

t.test('an HTTP client gets a readable answer', async (t) => {
  const { server } = await startEchoServer('a', { tcp: { onProtocolError: () => {} } });
  t.teardown(() => server.close());
  const { received } = await rawExchange(server.port, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
  t.match(received.toString(), /^HTTP\/1\.1 400 Bad Request[\s\S]*Trellis RPC protocol/);
});

t.test('a frame split across many TCP segments is reassembled', async (t) => {
  const { server, address } = await startEchoServer('a');
  t.teardown(() => server.close());
  // Build a real request frame with the client's encoder, then dribble it byte by byte.
  const frame = encodeRequestFrame(7, { group: 'default', service: 'test.Echo', version: '', method: 'Echo', timeoutMs: 1000, attempt: 1, metadata: new Map([['k', 'v']]) }, Buffer.from('{"message":"slow"}'));
  const reply = await new Promise<Buffer>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: server.port }, async () => {
      for (const byte of frame) {
        socket.write(Buffer.from([byte]));
        await new Promise((r) => setImmediate(r));
      }
    });
    const chunks: Buffer[] = [];
    socket.on('data', (c) => {
      chunks.push(c);
      const all = Buffer.concat(chunks);
      if (all.length >= 16 && all.length >= 16 + all.readUInt16BE(6) + all.readUInt32BE(12)) { socket.destroy(); resolve(all); }
    });
    socket.on('error', reject);
  });
  t.equal(reply[3], 2, 'a RESPONSE frame');
  t.equal(reply.readUInt32BE(8), 7, 'for stream 7');
  const body = reply.subarray(16 + reply.readUInt16BE(6));
  t.match(JSON.parse(body.toString()), { message: 'slow', servedBy: 'a' });
  t.ok(address);
});

t.test('a client pointed at a non-Trellis server fails with a clear error', async (t) => {
  const fake = createServer((s) => s.end('SSH-2.0-OpenSSH_9.2\r\n'));
  await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
  const port = (fake.address() as { port: number }).port;
  const client = new RpcClient({ service: ECHO, addresses: [`127.0.0.1:${port}`], transparentRetries: 0 });
  t.teardown(async () => { await client.close(); fake.close(); });
  const error = (await client.invoke('Echo', {}).catch((e: unknown) => e)) as Error;
  t.match(error.message, /not a Trellis peer: bad magic 0x5353/);
});

t.test('alternating methods on one connection are routed correctly', async (t) => {
  const { server, address } = await startEchoServer('a');
  const client = new RpcClient({ service: ECHO, addresses: [address] });
  t.teardown(async () => { await client.close(); await server.close(); });
  const calls = Array.from({ length: 200 }, (_, i) => client.invokeWithResult(i % 3 === 0 ? 'Mutate' : 'Echo', { message: `m${i}` }));
  const results = await Promise.all(calls);
  t.same(results.map((r) => (r.response as { message: string }).message), Array.from({ length: 200 }, (_, i) => `m${i}`));
  t.equal(server.connectionCount, 1);
});
