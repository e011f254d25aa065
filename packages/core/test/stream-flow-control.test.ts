import t from 'tap';
import { Code } from '../src/errors.js';
import { streamRig, until } from './fixtures/stream-transport.js';

const MESSAGE_COST = 1024 + 16; // the Flood method's 1 KiB message plus its frame header

t.test('backpressure: a producer pushing as fast as it can to a consumer taking one message per ms is paused', async (t) => {
  const window = 64 * 1024;
  const rig = await streamRig(t, { client: { streamWindow: window } });
  const stream = rig.open('Flood', 'server-streaming'); // the producer would push 1,000,000 messages: it is bounded by credit only
  stream.end();
  const responses = stream.responses[Symbol.asyncIterator]();
  await responses.next();
  let taken = 1;
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  let maxAhead = 0;
  const started = Date.now();
  while (Date.now() - started < 2000) {
    await new Promise((resolve) => setTimeout(resolve, 1));
    await responses.next();
    taken++;
    maxAhead = Math.max(maxAhead, rig.log.flooded - taken);
  }
  // In flight at most: the window (credit the consumer has not returned: up to one window), the half
  // window taken but not yet acknowledged, and one message a sender with any credit left may add.
  const bound = Math.ceil((1.5 * window) / MESSAGE_COST) + 2;
  t.ok(maxAhead <= bound, `the producer ran at most ${maxAhead} messages ahead of the consumer (bound ${bound}; it produced ${rig.log.flooded}, ${taken} taken)`);
  t.ok(rig.log.flooded < 1_000_000, 'the producer is paused, not buffering');
  global.gc?.();
  const grown = process.memoryUsage().heapUsed - heapBefore;
  t.ok(grown < 32 * 1024 * 1024, `heap grew ${(grown / 1048576).toFixed(1)} MiB over ~2 s (ceiling 32 MiB)`);
  stream.cancel('enough');
  await until(() => rig.log.aborts.length === 1, 20_000, 'the producer\'s abort');
  t.equal(rig.log.aborts[0]!.reason.code, Code.CANCELLED);
});

t.test('a client producer is paused the same way by a server handler that does not read', async (t) => {
  const rig = await streamRig(t, { server: { streamWindow: 16 * 1024 } });
  const stream = rig.open('Hang', 'client-streaming'); // Hang never reads its requests
  await stream.headers;
  let sent = 0;
  let blocked: Promise<void> | undefined;
  while (blocked === undefined && sent < 1_000_000) {
    blocked = stream.send(Buffer.alloc(1024));
    sent++;
  }
  t.ok(blocked instanceof Promise, `send() returned a promise once the credit ran out (after ${sent} messages)`);
  t.ok(sent <= Math.ceil((16 * 1024) / MESSAGE_COST) + 1, 'no more than the server\'s window went out');
  stream.cancel();
  await t.rejects(blocked!, { code: Code.CANCELLED }, 'a send waiting for credit rejects when the stream ends');
});

t.test('10,000 concurrent streams on one connection: each opens, carries a message and closes OK', async (t) => {
  const streams = 10_000;
  const rig = await streamRig(t, { server: { maxOpenStreams: streams } });
  const open = Array.from({ length: streams }, (_, i) => {
    const stream = rig.open('Echo', 'bidi-streaming');
    void stream.send(Buffer.from(String(i)));
    return stream;
  });
  await until(() => rig.log.opened === streams, 60_000, 'every stream to open on the server');
  t.equal(rig.listener.connectionCount, 1, 'all on one connection');
  let ok = 0;
  await Promise.all(open.map(async (stream, i) => {
    const responses = stream.responses[Symbol.asyncIterator]();
    const first = await responses.next();
    stream.end();
    const last = await responses.next();
    if (Buffer.from(first.value as Uint8Array).toString() === String(i) && last.done === true) ok++;
  }));
  t.equal(ok, streams, 'every stream echoed its own message and ended OK');
});

t.test('memory of idle open streams stays small (a generous ceiling; the bench reports the figure)', async (t) => {
  const streams = 5000;
  const rig = await streamRig(t, { server: { maxOpenStreams: streams + 1 } });
  const warm = rig.open('Hang', 'server-streaming');
  await warm.headers;
  global.gc?.();
  const before = process.memoryUsage().heapUsed;
  const open = Array.from({ length: streams }, () => rig.open('Hang', 'server-streaming'));
  await Promise.all(open.map((s) => s.headers));
  global.gc?.();
  const perStream = (process.memoryUsage().heapUsed - before) / streams;
  t.ok(perStream < 16 * 1024, `${Math.round(perStream)} bytes of heap per idle stream, both sides together (ceiling 16 KiB)`);
  for (const s of open) s.cancel();
  warm.cancel();
});
