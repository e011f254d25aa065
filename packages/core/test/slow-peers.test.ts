import t from 'tap';
import { Code, RpcClient } from '../src/index.js';
import { DEFAULT_FRAME_LIMITS, FrameType } from '../src/transport/frame.js';
import { FrameDecoder, type FrameSink } from '../src/transport/frame-decoder.js';
import { ECHO, startEchoServer, waitFor } from './fixtures/json-service.js';
import { echoRequest, fixedHeader, RawPeer, responseHeader } from './fixtures/raw-peer.js';

t.test('a peer that dribbles a frame after the handshake is closed with a clear reason', async (t) => {
  const errors: string[] = [];
  const { server, address } = await startEchoServer('a', {
    tcp: { minReceiveRate: 1000, receiveRateWindowMs: 300, idleTimeoutMs: 60_000, onProtocolError: (_p, m) => errors.push(m) },
  });
  const good = new RpcClient({ service: ECHO, addresses: [address] });
  const dribbler = await RawPeer.connect(server.port);
  t.teardown(async () => { dribbler.destroy(); await good.close(); await server.close({ graceMs: 0 }); });
  const frame = echoRequest(1, { message: 'x'.repeat(2000) });
  let sent = 0;
  const timer = setInterval(() => { if (sent < frame.length) dribbler.write(frame.subarray(sent, ++sent)); }, 50); // 20 bytes/s
  t.teardown(() => clearInterval(timer));
  const goAway = responseHeader(await dribbler.next((f) => f.type === FrameType.GOAWAY));
  t.equal(goAway.code, Code.RESOURCE_EXHAUSTED);
  t.match(goAway.message, /a frame arrived at \d+ bytes\/s over 300 ms, below the minimum of 1000 \(minReceiveRate\)/);
  await dribbler.closed;
  t.ok(sent < 200, `closed after ${sent} bytes`);
  t.match(errors.join('\n'), /minReceiveRate/);
  t.match(await good.invoke('Echo', { message: 'fine' }), { message: 'fine' });
});

t.test('a peer that sends half of a large frame and stalls is closed too (the rate is per window)', async (t) => {
  const errors: string[] = [];
  const { server } = await startEchoServer('a', { tcp: { minReceiveRate: 10_000, receiveRateWindowMs: 300, onProtocolError: (_p, m) => errors.push(m) } });
  const staller = await RawPeer.connect(server.port);
  t.teardown(async () => { staller.destroy(); await server.close({ graceMs: 0 }); });
  const frame = echoRequest(1, { message: 'x'.repeat(2 * 1024 * 1024) });
  staller.write(frame.subarray(0, frame.length >> 1));
  const goAway = responseHeader(await staller.next((f) => f.type === FrameType.GOAWAY));
  // The window that failed saw under 3,000 bytes: none when the half frame arrived within one window,
  // a few when a loaded machine delivered its tail a window late. Either way the connection was
  // closed although its rate since the frame began (1 MiB within seconds) is far above the minimum.
  t.match(goAway.message, /a frame arrived at \d+ bytes\/s over 300 ms, below the minimum of 10000 \(minReceiveRate\)/);
  await staller.closed;
});

t.test('bytes held in partial frames are capped per server; a frame past the cap fails its call alone', async (t) => {
  const limits = { maxBodySize: 1024 * 1024 };
  const { server, address, stats } = await startEchoServer('a', { tcp: { limits, maxPartialFrameBytes: 2_200_000 } });
  const holders = await Promise.all([0, 1, 2].map(() => RawPeer.connect(server.port)));
  t.teardown(async () => { holders.forEach((h) => h.destroy()); await server.close({ graceMs: 0 }); });
  const frame = echoRequest(1, { message: 'x'.repeat(1000 * 1000) });
  // Two holders fit (about 1.6 MB held); the third to arrive passes the cap and is refused for that stream.
  for (const holder of holders) holder.write(frame.subarray(0, 800_000));
  await waitFor(() => holders.some((h) => h.frames.some((f) => f.type === FrameType.RESPONSE)));
  const refusedIndex = holders.findIndex((h) => h.frames.some((f) => f.type === FrameType.RESPONSE));
  const [loser, ...winners] = [holders[refusedIndex]!, ...holders.filter((_, i) => i !== refusedIndex)];
  const refused = responseHeader(await loser.response(1));
  t.equal(refused.code, Code.RESOURCE_EXHAUSTED);
  t.equal(refused.notExecuted, true);
  t.match(refused.message, /already holds 2200000 bytes of partially received frames \(maxPartialFrameBytes\)/);
  // Its connection lives on: the rest of that frame is skipped, the next call is served.
  loser.write(frame.subarray(800_000));
  loser.write(echoRequest(3, { message: 'next' }));
  t.equal(responseHeader(await loser.response(3)).code, Code.OK);
  // A holder that fit completes its frame normally.
  winners[0]!.write(frame.subarray(800_000));
  t.equal(responseHeader(await winners[0]!.response(1)).code, Code.OK);
  // Once the other hangs up, what it held is released: a normal large call is accepted.
  winners[1]!.destroy();
  await winners[1]!.closed;
  const client = new RpcClient({ service: ECHO, addresses: [address] });
  t.teardown(() => client.close());
  t.match(await client.invoke('Echo', { message: 'y'.repeat(900_000) }), { servedBy: 'a' });
  t.equal(stats.calls, 3);
});

t.test('a frame spread over many chunks is copied once (linear, not quadratic, in its size)', async (t) => {
  const delivered: number[] = [];
  const sink: FrameSink = {
    onFrame: (_type, _id, _buf, _hs, _he, bodyEnd) => delivered.push(bodyEnd),
    onRefusedFrame: () => t.fail('refused'),
    onProtocolError: (m) => t.fail(m),
  };
  const size = 16 * 1024 * 1024;
  const decoder = new FrameDecoder({ ...DEFAULT_FRAME_LIMITS, maxBodySize: size }, sink);
  const frame = Buffer.concat([fixedHeader({ type: FrameType.REQUEST, bodyLength: size }), Buffer.alloc(size, 1)]);
  const concat = Buffer.concat;
  let copied = 0;
  Buffer.concat = ((list: readonly Uint8Array[], total?: number) => {
    copied += total ?? list.reduce((n, b) => n + b.length, 0);
    return concat(list, total);
  }) as typeof Buffer.concat;
  try {
    for (let offset = 0; offset < frame.length; offset += 64 * 1024) decoder.push(frame.subarray(offset, offset + 64 * 1024));
  } finally {
    Buffer.concat = concat;
  }
  t.same(delivered, [frame.length]);
  t.ok(copied <= frame.length, `${copied} bytes copied for a frame of ${frame.length} (appending per chunk copied ~${Math.round((frame.length / 65536) * frame.length / 2 / 1e9)} GB)`);
});

t.test('a frame over the limits is skipped without being held; its header split across chunks too', async (t) => {
  const events: string[] = [];
  const sink: FrameSink = {
    onFrame: (type, id) => events.push(`frame ${type}:${id}`),
    onRefusedFrame: (type, id, reason) => events.push(`refused ${type}:${id} ${reason}`),
    onProtocolError: (m) => events.push(`error ${m}`),
  };
  const decoder = new FrameDecoder({ ...DEFAULT_FRAME_LIMITS, maxBodySize: 100 }, sink);
  const big = Buffer.concat([fixedHeader({ streamId: 5, bodyLength: 10_000 }), Buffer.alloc(10_000)]);
  const small = Buffer.concat([fixedHeader({ streamId: 7, bodyLength: 3 }), Buffer.from('abc')]);
  const stream = Buffer.concat([big, small]);
  for (let offset = 0; offset < stream.length; offset += 7) decoder.push(stream.subarray(offset, offset + 7));
  t.same(events, ['refused 1:5 frame body of 10000 bytes exceeds the limit of 100 (maxBodySize)', 'frame 1:7']);
  t.equal(decoder.midFrame, false);
});
