import t from 'tap';
import { streamRig, unaryRequest } from './fixtures/stream-transport.js';

// Received stream messages are copied out of the socket read several to one copy (MessageCopier),
// and the server's write batch keeps its slab across flushes when the socket took all of it
// (WriteBatcher): these check what neither may change — a held message owns its bytes and pins no
// more than 8 KiB, and frames written over a kept slab arrive intact.

t.test('messages that arrive many to a read are owned: each pins at most 8 KiB and keeps its bytes', async (t) => {
  const rig = await streamRig(t);
  const n = 5000;
  const stream = rig.open('Count', 'server-streaming');
  void stream.send(Buffer.from(String(n)));
  stream.end();
  const held: Uint8Array[] = [];
  for await (const message of stream.responses) held.push(message); // all held until the end
  t.equal(held.length, n, 'every message arrived');
  let wrong = 0;
  let largest = 0;
  for (let i = 0; i < held.length; i++) {
    const message = held[i]!;
    if (Buffer.from(message.buffer, message.byteOffset, message.byteLength).toString() !== String(i)) wrong++;
    largest = Math.max(largest, message.buffer.byteLength);
  }
  t.equal(wrong, 0, 'each held message still holds its own bytes after the later reads');
  // A view of the socket read would pin up to 64 KiB; Buffer.allocUnsafe's pool slab is 8 KiB.
  t.ok(largest <= 8 * 1024, `the largest memory a held message keeps alive is ${largest} bytes (at most 8 KiB)`);
});

t.test('a message larger than 8 KiB is copied whole', async (t) => {
  const rig = await streamRig(t);
  const stream = rig.open('Echo', 'bidi-streaming');
  const big = Buffer.alloc(20_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 255;
  void stream.send(big);
  void stream.send(Buffer.from('after'));
  stream.end();
  const got: Buffer[] = [];
  for await (const message of stream.responses) got.push(Buffer.from(message));
  t.equal(got.length, 2);
  t.ok(got[0]!.equals(big), 'the 20,000-byte message arrived intact');
  t.equal(got[1]!.toString(), 'after');
});

t.test('frames written over a kept batch slab arrive intact across many ticks, beside unary calls', async (t) => {
  const rig = await streamRig(t);
  const stream = rig.open('Echo', 'bidi-streaming');
  const count = 3000;
  // Sizes that vary from tick to tick, so slabs are kept, outgrown and replaced.
  const body = (i: number): Buffer => Buffer.alloc(1 + ((i * 37) % 3000), `${i}:`);
  const unary: Promise<unknown>[] = [];
  const sending = (async () => {
    for (let i = 0; i < count; i++) {
      const wait = stream.send(body(i));
      if (wait) await wait;
      if (i % 50 === 0) {
        unary.push(rig.client.call(rig.endpoint, unaryRequest('u')));
        await new Promise((resolve) => setImmediate(resolve)); // a new tick: a new flush
      }
    }
    stream.end();
  })();
  let i = 0;
  let wrong = 0;
  for await (const message of stream.responses) {
    if (!Buffer.from(message).equals(body(i))) wrong++;
    i++;
  }
  await sending;
  t.equal(i, count, 'every message came back');
  t.equal(wrong, 0, 'every echoed message equals what was sent');
  const answers = await Promise.all(unary);
  t.equal(answers.length, count / 50, 'the unary calls beside the stream were answered');
});
