import { createServer, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import { Code, RpcClient, type RpcError } from '../src/index.js';
import { FrameType } from '../src/transport/frame.js';
import { ECHO, startEchoServer } from './fixtures/json-service.js';
import { RawPeer, responseHeader, settingsFrame } from './fixtures/raw-peer.js';

/**
 * A peer's SETTINGS may not announce a limit no conforming peer could have: max_header_size below
 * 1,024 and max_body_size 0 are refused alike, as a protocol error naming the field (docs/protocol.md).
 */

async function goAwayFor(t: Test, settings: Parameters<typeof settingsFrame>[0]): Promise<{ code: number; message: string; errors: string[] }> {
  const errors: string[] = [];
  const { server } = await startEchoServer('a', { tcp: { onProtocolError: (_peer, message) => errors.push(message) } });
  t.teardown(() => server.close());
  const peer = await RawPeer.connect(server.port, { handshake: false });
  t.teardown(() => peer.destroy());
  peer.write(settingsFrame(settings));
  const header = responseHeader(await peer.next((f) => f.type === FrameType.GOAWAY));
  await peer.closed;
  return { code: header.code, message: header.message, errors };
}

t.test('a client announcing max_body_size 0 is refused as one announcing max_header_size 0', async (t) => {
  const body = await goAwayFor(t, { maxBodySize: 0 });
  const header = await goAwayFor(t, { maxHeaderSize: 0 });
  t.equal(body.code, Code.INVALID_ARGUMENT);
  t.equal(body.code, header.code, 'the same code for both');
  t.match(body.message, /^protocol error: bad SETTINGS: SETTINGS max_body_size 0 is outside 1\.\.4294967295$/);
  t.match(header.message, /^protocol error: bad SETTINGS: SETTINGS max_header_size 0 is outside 1024\.\.65535$/);
  t.equal(body.errors.length, 1, 'reported to onProtocolError');
  t.equal(header.errors.length, 1);
});

t.test('max_body_size 1 (the smallest a peer may announce) is accepted', async (t) => {
  const { server } = await startEchoServer('a');
  t.teardown(() => server.close());
  const peer = await RawPeer.connect(server.port, { handshake: false });
  t.teardown(() => peer.destroy());
  peer.write(settingsFrame({ maxBodySize: 1 }));
  t.equal((await peer.next()).type, FrameType.SETTINGS, 'the server answers with its own SETTINGS');
});

/** A fake server that answers the client's SETTINGS with `frame` (a hand-written peer). */
async function fakeServer(t: Test, frame: Buffer): Promise<string> {
  const server = createServer((socket: Socket) => {
    socket.on('error', () => {});
    socket.once('data', () => socket.write(frame));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `127.0.0.1:${(server.address() as { port: number }).port}`;
}

t.test('a server announcing max_body_size 0 fails the dial as one announcing max_header_size 0', async (t) => {
  const failure = async (settings: Parameters<typeof settingsFrame>[0]): Promise<RpcError> => {
    const client = new RpcClient({ service: ECHO, addresses: [await fakeServer(t, settingsFrame(settings))], transparentRetries: 0 });
    t.teardown(() => client.close());
    return (await client.invoke('Echo', { message: 'never sent' }).catch((e: unknown) => e)) as RpcError;
  };
  const body = await failure({ maxBodySize: 0 });
  const header = await failure({ maxHeaderSize: 0 });
  t.equal(body.code, Code.UNAVAILABLE);
  t.equal(body.code, header.code);
  t.equal(body.mayHaveRun, false, 'the call was never sent');
  t.match(body.message, /protocol error from .*: bad SETTINGS: SETTINGS max_body_size 0 is outside 1\.\.4294967295/);
  t.match(header.message, /protocol error from .*: bad SETTINGS: SETTINGS max_header_size 0 is outside 1024\.\.65535/);
});
