import { connect, type Socket } from 'node:net';
import * as protobuf from 'protobufjs';
import t from 'tap';
import { tightRawKind } from '../src/kinds/tight-raw.js';
import { callOnce } from '../src/load.js';
import { BENCH_PROTO, CHECK_REQUEST, echoMismatch, makeRequest } from '../src/payload.js';

const type = protobuf.loadSync(BENCH_PROTO).lookupType('bench.EchoRequest');

function frame(id: number, message: object): Buffer {
  const writer = protobuf.Writer.create().uint32(id);
  type.encodeDelimited(message, writer);
  return Buffer.from(writer.finish());
}

/** Reads `count` answer frames off a socket: [id, decoded message]. */
function answers(socket: Socket, count: number): Promise<[number, protobuf.Message][]> {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const out: [number, protobuf.Message][] = [];
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const reader = protobuf.Reader.create(buf);
      let consumed = 0;
      try {
        while (reader.pos < reader.len && out.length < count) {
          const id = reader.uint32();
          const length = reader.uint32();
          if (reader.pos + length > reader.len) break;
          out.push([id, type.decode(reader, length)]);
          consumed = reader.pos;
        }
      } catch { /* frame cut by the chunk: wait for more */ }
      buf = buf.subarray(consumed);
      if (out.length === count) resolve(out);
    });
  });
}

const dial = (port: number) => new Promise<Socket>((resolve) => {
  const socket = connect({ host: '127.0.0.1', port }, () => resolve(socket));
});
const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

t.test('the tight raw server answers frames split across reads and frames sharing one read', async (t) => {
  const server = await tightRawKind.serve({ plugins: false });
  t.teardown(() => server.close());
  const socket = await dial(server.port);
  t.teardown(() => socket.destroy());
  const got = answers(socket, 3);
  const bytes = Buffer.concat([frame(1, CHECK_REQUEST), frame(300, makeRequest(5)), frame(2, CHECK_REQUEST)]);
  // Cut inside the first frame's id/length prefix, inside its body, and inside the third frame.
  for (const [from, to] of [[0, 1], [1, 40], [40, bytes.length - 10], [bytes.length - 10, bytes.length]]) {
    socket.write(bytes.subarray(from, to));
    await tick();
  }
  const echoed = await got;
  t.same(echoed.map(([id]) => id), [1, 300, 2]);
  for (const [id, message] of echoed) {
    if (id !== 300) t.equal(echoMismatch(message), undefined, `frame ${id} echoed field for field`);
  }
  t.equal(String((echoed[1]![1] as unknown as { id: unknown }).id), '5');
});

t.test('the tight raw client echoes through its own framing, int64 beyond 2^32 included', async (t) => {
  const server = await tightRawKind.serve({ plugins: false });
  t.teardown(() => server.close());
  const caller = await tightRawKind.connect({ port: server.port, connections: 2, plugins: false });
  t.teardown(() => caller.close());
  const responses = await Promise.all(Array.from({ length: 50 }, () => callOnce(caller, CHECK_REQUEST)));
  for (const response of responses) t.equal(echoMismatch(response), undefined);
});

t.test('a malformed frame closes that connection only; the server keeps serving', async (t) => {
  const server = await tightRawKind.serve({ plugins: false });
  t.teardown(() => server.close());
  const bad = await dial(server.port);
  const closed = new Promise((resolve) => bad.on('close', resolve));
  bad.on('error', () => {});
  bad.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]));
  await closed;
  const caller = await tightRawKind.connect({ port: server.port, connections: 1, plugins: false });
  t.teardown(() => caller.close());
  t.equal(echoMismatch(await callOnce(caller, CHECK_REQUEST)), undefined);
});

t.test('calls on a closed tight raw connection fail instead of hanging', async (t) => {
  const server = await tightRawKind.serve({ plugins: false });
  const caller = await tightRawKind.connect({ port: server.port, connections: 1, plugins: false });
  t.teardown(() => caller.close());
  const pending = callOnce(caller, CHECK_REQUEST);
  await server.close();
  await pending.then(() => t.pass('answered before the close'), (error: Error) => t.match(error.message, /connection closed/));
  await t.rejects(callOnce(caller, CHECK_REQUEST), /connection closed/);
});
