import t from 'tap';
import { Code, RpcClient, RpcServer, type MessageCodec, type RpcError, type ServiceDefinition } from '../src/index.js';
import { jsonCodec } from './fixtures/json-service.js';

/**
 * A codec's optional fast path (MessageCodec.encodedLength / encodeInto) on server streams: the
 * kernel has the native transport encode each message straight into the connection's write batch
 * (issue #18). Tested end to end with a JSON codec that has the fast path and counts its use.
 */
interface Uses { inPlace: number; inBatch: number; failInto: boolean }

function inPlaceJson(uses: Uses): MessageCodec {
  return {
    ...jsonCodec,
    encodedLength(message) {
      if ((message as { poison?: boolean } | null)?.poison === true) throw new Error('poisoned message');
      return Buffer.byteLength(JSON.stringify(message));
    },
    encodeInto(message, target, offset) {
      if (uses.failInto) throw new Error('a codec that breaks its contract');
      uses.inPlace++;
      const text = JSON.stringify(message);
      // The batch is larger than one message; a message that waited for credit gets a buffer of its own.
      if (target.length > Buffer.byteLength(text)) uses.inBatch++;
      return offset + Buffer.from(target.buffer, target.byteOffset, target.byteLength).write(text, offset);
    },
  };
}

function service(codec: MessageCodec): ServiceDefinition {
  const method = { name: 'Count', localName: 'count', kind: 'server-streaming' as const, requestCodec: jsonCodec, responseCodec: codec, idempotent: false, options: {} };
  return { name: 'test.InPlace', methods: { Count: method } };
}

t.test('server stream messages are encoded in place, in order, past the stream window (some wait for credit)', async (t) => {
  const uses: Uses = { inPlace: 0, inBatch: 0, failInto: false };
  const definition = service(inPlaceJson(uses));
  let finallyRan = 0;
  const server = new RpcServer({ host: '127.0.0.1' }).addService(definition, {
    async *count(request: { n: number; poisonAt?: number }) {
      try {
        const pad = 'é'.repeat(300); // multi-byte: lengths are bytes, not characters
        for (let i = 0; i < request.n; i++) yield i === request.poisonAt ? { poison: true } : { i, pad };
      } finally {
        finallyRan++;
      }
    },
  });
  await server.start();
  t.teardown(() => server.close({ graceMs: 100 }));
  const client = new RpcClient({ service: definition, addresses: [`127.0.0.1:${server.port}`], timeoutMs: 60_000 });
  t.teardown(() => client.close());

  // 2,000 × ~620 bytes ≈ 1.2 MB through a 64 KiB window: the client reads slowly at first, so
  // the server runs out of credit and later messages are encoded into buffers of their own.
  let expected = 0;
  let inOrder = true;
  for await (const message of client.stream('Count', { n: 2000 })) {
    const m = message as { i: number; pad: string };
    if (m.i !== expected++ || m.pad.length !== 300) inOrder = false;
    if (expected === 1) await new Promise((resolve) => setImmediate(resolve));
  }
  t.equal(expected, 2000, 'every message arrived');
  t.ok(inOrder, 'in order and intact');
  t.equal(uses.inPlace, 2000, 'each was encoded through encodeInto');
  t.ok(uses.inBatch > 0, 'straight into the write batch');

  // encodedLength refusing a message fails the stream INTERNAL, saying why; the handler's finally runs.
  const before = finallyRan;
  const error = await (async () => {
    for await (const message of client.stream('Count', { n: 10, poisonAt: 3 })) void message;
  })().catch((e: RpcError) => e);
  t.match(error, { code: Code.INTERNAL, message: /could not be encoded: poisoned message/ });
  t.equal(finallyRan, before + 1, 'the generator was closed');
});

t.test('a codec whose encodeInto throws after encodedLength accepted the message fails that stream only', async (t) => {
  const uses: Uses = { inPlace: 0, inBatch: 0, failInto: true };
  const definition = service(inPlaceJson(uses));
  const server = new RpcServer({ host: '127.0.0.1' }).addService(definition, {
    async *count(request: { n: number }) {
      for (let i = 0; i < request.n; i++) yield { i };
    },
  });
  await server.start();
  t.teardown(() => server.close({ graceMs: 100 }));
  const client = new RpcClient({ service: definition, addresses: [`127.0.0.1:${server.port}`], timeoutMs: 30_000 });
  t.teardown(() => client.close());
  const failed = await (async () => {
    const got: unknown[] = [];
    for await (const message of client.stream('Count', { n: 3 })) got.push(message);
    return got;
  })().catch((e: RpcError) => e);
  t.ok(failed instanceof Error, 'the stream fails');
  t.not((failed as RpcError).code, Code.OK);
  t.equal((failed as RpcError).mayHaveRun, true, 'it ran');
  uses.failInto = false;
  const items: unknown[] = [];
  for await (const message of client.stream('Count', { n: 3 })) items.push(message);
  t.same(items, [{ i: 0 }, { i: 1 }, { i: 2 }], 'the connection still serves the next stream');
});
