import { connect, createServer, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import { Code, RpcClient, type RpcError } from '../src/index.js';
import { FIXED_HEADER_SIZE, FrameType } from '../src/transport/frame.js';
import { decodeResponseHeader, encodeResponseFrame } from '../src/transport/header-codec.js';
import { decodeSettings } from '../src/transport/settings.js';
import { writeVarintField } from '../src/transport/proto-wire.js';
import { ECHO, startEchoServer } from './fixtures/json-service.js';
import { echoRequest, fixedHeader, RawPeer, responseHeader, settingsFrame } from './fixtures/raw-peer.js';

/** A TCP server whose connections `onConnection` handles (a fake peer). */
async function fakeServer(t: Test, onConnection: (socket: Socket) => void): Promise<string> {
  const server = createServer((socket) => { socket.on('error', () => {}); onConnection(socket); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  return `127.0.0.1:${(server.address() as { port: number }).port}`;
}

t.test('the server announces its limits in SETTINGS, after the client\'s', async (t) => {
  const { server } = await startEchoServer('a', { tcp: { limits: { maxBodySize: 123_456, maxHeaderSize: 4096, maxMetadataEntries: 9 }, maxConcurrentStreams: 77 } });
  t.teardown(() => server.close());
  const peer = await RawPeer.connect(server.port, { handshake: false });
  t.teardown(() => peer.destroy());
  peer.write(settingsFrame());
  const settings = await peer.next();
  t.equal(settings.type, FrameType.SETTINGS, 'the server\'s first frame');
  t.match(decodeSettings(settings.header, 0, settings.header.length), { maxBodySize: 123_456, maxHeaderSize: 4096, maxMetadataEntries: 9, maxConcurrentStreams: 77 });
});

t.test('settings it does not know (later features) are ignored', async (t) => {
  const { server } = await startEchoServer('a');
  t.teardown(() => server.close());
  const peer = await RawPeer.connect(server.port, { handshake: false });
  t.teardown(() => peer.destroy());
  const settings = settingsFrame({ capabilities: 0b1011 });
  const extra = Buffer.alloc(8);
  const extraLength = writeVarintField(extra, writeVarintField(extra, 0, 20, 65535), 21, 3);
  const frame = Buffer.concat([settings, extra.subarray(0, extraLength)]);
  frame.writeUInt16BE(frame.length - FIXED_HEADER_SIZE, 6);
  peer.write(frame);
  t.equal((await peer.next()).type, FrameType.SETTINGS);
  peer.write(echoRequest(1, { message: 'hi' }));
  t.equal(responseHeader(await peer.response(1)).code, Code.OK);
});

t.test('bad or repeated SETTINGS close the connection with a reason', async (t) => {
  const errors: string[] = [];
  const { server } = await startEchoServer('a', { tcp: { onProtocolError: (_p, m) => errors.push(m) } });
  t.teardown(() => server.close());
  const tiny = await RawPeer.connect(server.port, { handshake: false });
  tiny.write(settingsFrame({ maxHeaderSize: 10 }));
  t.match(responseHeader(await tiny.next((f) => f.type === FrameType.GOAWAY)).message, /bad SETTINGS: SETTINGS max_header_size 10 is outside 1024\.\.65535/);
  const twice = await RawPeer.connect(server.port);
  twice.write(settingsFrame());
  t.match(responseHeader(await twice.next((f) => f.type === FrameType.GOAWAY)).message, /unexpected frame type SETTINGS/);
  await Promise.all([tiny.closed, twice.closed]);
  t.equal(errors.length, 2);
});

t.test('a version-1 client is told, in a frame it can read, that the server speaks version 2', async (t) => {
  const errors: string[] = [];
  const { server } = await startEchoServer('a', { tcp: { onProtocolError: (_p, m) => errors.push(m) } });
  t.teardown(() => server.close());
  const old = connect({ host: '127.0.0.1', port: server.port });
  const request = echoRequest(1, { message: 'from 2025' });
  request[2] = 1; // how a version-1 client wrote its requests (no SETTINGS first)
  old.write(request);
  const chunks: Buffer[] = [];
  old.on('data', (chunk: Buffer) => chunks.push(chunk));
  const closed = new Promise((resolve) => old.on('close', resolve));
  old.on('error', () => {});
  await closed;
  const bytes = Buffer.concat(chunks);
  t.equal(bytes[2], 1, 'written with version byte 1');
  t.equal(bytes[3], FrameType.GOAWAY);
  const header = decodeResponseHeader(bytes, FIXED_HEADER_SIZE, FIXED_HEADER_SIZE + bytes.readUInt16BE(6));
  t.match(header.message, /unsupported protocol version 1: this server speaks Trellis protocol version 2 \(upgrade @trellis\/core on the client\)/);
  t.match(errors.join('\n'), /unsupported protocol version 1/);
});

t.test('a client at a version-1 server fails with a clear error, the calls never sent', async (t) => {
  // What a version-1 server answers to a version-2 frame: a version-1 GOAWAY, then it closes.
  const address = await fakeServer(t, (socket) => socket.once('data', () => {
    const goAway = encodeResponseFrame(FrameType.GOAWAY, 0, Code.INVALID_ARGUMENT, 'protocol error: unsupported protocol version 2; this peer speaks version 1', true, undefined, undefined, 1);
    socket.end(goAway);
  }));
  const client = new RpcClient({ service: ECHO, addresses: [address], transparentRetries: 0 });
  t.teardown(() => client.close());
  const error = (await client.invoke('Echo', {}).catch((e: unknown) => e)) as RpcError;
  t.equal(error.code, Code.UNAVAILABLE);
  t.equal(error.mayHaveRun, false);
  t.match(error.message, /speaks Trellis protocol version 1; this client speaks version 2 \(upgrade @trellis\/core on the server\)/);
});

t.test('a server that never sends SETTINGS: the dial fails after connectTimeoutMs, the call never sent', async (t) => {
  const address = await fakeServer(t, () => { /* accepts and says nothing */ });
  const client = new RpcClient({ service: ECHO, addresses: [address], transparentRetries: 0, tcp: { connectTimeoutMs: 300 } });
  t.teardown(() => client.close());
  const error = (await client.invoke('Echo', {}).catch((e: unknown) => e)) as RpcError;
  t.equal(error.code, Code.UNAVAILABLE);
  t.equal(error.mayHaveRun, false);
  t.match(error.message, /sent no SETTINGS within 300 ms of connecting \(connectTimeoutMs\)/);
});

/**
 * Blocks this process's event loop for `ms` (without spinning a core: a GC pause, a starved process)
 * right after the client's socket is created, so the connect completes while the process cannot run.
 * The dial is made from a check-phase callback: the next loop turn runs the expired connect timer
 * before it reads the completed connect.
 */
async function dialThroughStall(client: RpcClient, ms: number): Promise<unknown> {
  const subscription = client.transport.onStateChange((event) => {
    if (event.state !== 'connecting') return;
    subscription.dispose();
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  });
  await new Promise((resolve) => setImmediate(resolve));
  return client.invoke('Echo', { message: 'after the stall' }).catch((e: unknown) => e);
}

t.test('an event-loop stall past connectTimeoutMs during the dial does not fail a healthy connection', async (t) => {
  // The connect timer fires before the completed connect is read; the client used to report
  // "connect timed out" for a connection that was up.
  const { server, address } = await startEchoServer('a');
  t.teardown(() => server.close());
  // The default connectTimeoutMs (3 s), stalled past: the handshake then has the whole 3 s again.
  const client = new RpcClient({ service: ECHO, addresses: [address], transparentRetries: 0 });
  t.teardown(() => client.close());
  t.match(await dialThroughStall(client, 3500), { message: 'after the stall' });
});

t.test('a stall during the dial to a server that never sends SETTINGS still blames the missing SETTINGS', async (t) => {
  const address = await fakeServer(t, () => { /* accepts and says nothing */ });
  const client = new RpcClient({ service: ECHO, addresses: [address], transparentRetries: 0, tcp: { connectTimeoutMs: 300 } });
  t.teardown(() => client.close());
  const error = (await dialThroughStall(client, 600)) as RpcError;
  t.equal(error.mayHaveRun, false);
  t.match(error.message, /sent no SETTINGS within 300 ms of connecting \(connectTimeoutMs\)/, 'not "connect timed out": the connection was up');
});

t.test('a request before SETTINGS, and a server frame before SETTINGS, are protocol errors', async (t) => {
  const address = await fakeServer(t, (socket) => socket.once('data', () => socket.write(Buffer.concat([fixedHeader({ type: FrameType.RESPONSE, streamId: 1 })]))));
  const client = new RpcClient({ service: ECHO, addresses: [address], transparentRetries: 0 });
  t.teardown(() => client.close());
  const error = (await client.invoke('Echo', {}).catch((e: unknown) => e)) as RpcError;
  t.equal(error.mayHaveRun, false);
  t.match(error.message, /expected SETTINGS as the server's first frame, got RESPONSE/);
});
