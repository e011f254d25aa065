import t from 'tap';
import * as path from 'node:path';
import { RpcClient, RpcServer, type ServiceDefinition } from '@trellis/core';
import { loadProto } from '../src/index.js';
import { generator } from './fixtures/random-messages.js';

// The object encoder on the kernel's paths, over loopback: a server stream encodes each yielded plain
// object in place into the connection's write batch (and a unary answer and request too). What the
// client decodes must be what `decode(encode(object))` gives — the protobufjs path — for objects the
// object encoder takes (int64 as strings and numbers, enums by name, nested, repeated and map
// fields) and for those it passes on to fromObject, interleaved on one stream.
const DIRECT = path.join(__dirname, 'fixtures', 'direct.proto');
const codec = loadProto(DIRECT).message('direct.v1.Everything');

const definition: ServiceDefinition = {
  name: 'direct.v1.Objects',
  methods: {
    Feed: { name: 'Feed', localName: 'feed', kind: 'server-streaming', requestCodec: codec, responseCodec: codec, idempotent: false, options: {} },
    Echo: { name: 'Echo', localName: 'echo', kind: 'unary', requestCodec: codec, responseCodec: codec, idempotent: true, options: {} },
  },
};

const COUNT = 400;
/** Seeded objects: odd seeds without the Any field (mostly taken by the object encoder), even seeds as generated. */
const objects = Array.from({ length: COUNT }, (_, i) => {
  const object = generator(9000 + i).everything();
  if (i % 2 === 1) delete object.extra;
  return object;
});
objects.push({ scalars: { fInt64: '-42', fUint64: 7, fEnum: 'SAD', fString: 'héllo' }, rEnum: ['HAPPY', 2], mString: { a: 'b' }, leaf: { name: 'n', next: { deltas: ['-1', 2] } } });

t.test('a server stream of plain objects arrives as decode(encode(object)), in order', async (t) => {
  const server = new RpcServer({ host: '127.0.0.1', port: 0 }).addService(definition, {
    async *feed() {
      for (const object of objects) yield object;
    },
    async echo(request: unknown) {
      return request;
    },
  });
  await server.start();
  t.teardown(() => server.close({ graceMs: 100 }));
  const client = new RpcClient({ service: definition, addresses: [`127.0.0.1:${server.port}`], timeoutMs: 30_000 });
  t.teardown(() => client.close());

  let i = 0;
  let same = 0;
  for await (const received of client.stream('Feed', {})) {
    const expected = codec.decode(codec.encode(objects[i]));
    if (JSON.stringify(received) === JSON.stringify(expected)) same++;
    else t.same(received, expected, `message ${i}`);
    i++;
  }
  t.equal(i, objects.length, 'every message arrived');
  t.equal(same, objects.length, 'each one as protobufjs encodes it');

  // Unary: the request is encoded in place on the client, the answer on the server.
  const last = objects[objects.length - 1]!;
  t.same(await client.invoke('Echo', last), codec.decode(codec.encode(last)), 'a unary round trip of the same object');
});
