import t, { type Test } from 'tap';
import { Code, RpcClient, RpcServer, type MessageCodec, type RpcError, type ServiceDefinition } from '../src/index.js';
import { jsonCodec } from './fixtures/json-service.js';

/**
 * A codec's optional fast path (MessageCodec.encodedLength / encodeInto) on unary calls: the client
 * has the native transport encode each request straight into the connection's write batch
 * (OutboundRequest.bodyLength / writeBody), the server each answer (ServerExchange.respondEncoded).
 * Tested end to end with a JSON codec that has the fast path and counts what was used.
 */
interface Uses { encode: number; inPlace: number; failInto: false | 'throw' | 'short' }

function inPlaceJson(uses: Uses): MessageCodec {
  return {
    decode: jsonCodec.decode,
    encode(message) {
      uses.encode++;
      return jsonCodec.encode(message);
    },
    encodedLength(message) {
      if ((message as { poison?: boolean } | null)?.poison === true) throw new Error('poisoned message');
      return Buffer.byteLength(JSON.stringify(message));
    },
    encodeInto(message, target, offset) {
      if (uses.failInto === 'throw') throw new Error('a codec that breaks its contract');
      uses.inPlace++;
      const end = offset + Buffer.from(target.buffer, target.byteOffset, target.byteLength).write(JSON.stringify(message), offset);
      return uses.failInto === 'short' ? end - 1 : end;
    },
  };
}

function service(request: MessageCodec, response: MessageCodec): ServiceDefinition {
  const method = { name: 'Echo', localName: 'echo', requestCodec: request, responseCodec: response, idempotent: false, options: {} };
  return { name: 'test.UnaryInPlace', methods: { Echo: method } };
}

interface EchoRequest { message: string; trailer?: string; poison?: boolean }

/** A server whose handler echoes (and can be held: `hold` resolves when `release` is called). */
async function start(t: Test, definition: ServiceDefinition, options: { maxConcurrentStreams?: number } = {}) {
  const held: (() => void)[] = [];
  let onHeld: (() => void) | undefined;
  const server = new RpcServer({ host: '127.0.0.1', tcp: { maxConcurrentStreams: options.maxConcurrentStreams ?? 1000 } }).addService(definition, {
    async echo(request: EchoRequest & { hold?: boolean; answerPoison?: boolean }, call: { responseMetadata: Map<string, string> }) {
      if (request.hold) {
        await new Promise<void>((resolve) => {
          held.push(resolve);
          onHeld?.();
        });
      }
      if (request.trailer !== undefined) call.responseMetadata.set('x-trailer', request.trailer);
      return request.answerPoison ? { poison: true } : { message: request.message };
    },
  });
  await server.start();
  t.teardown(() => server.close({ graceMs: 100 }));
  const client = new RpcClient({ service: definition, addresses: [`127.0.0.1:${server.port}`], timeoutMs: 60_000 });
  t.teardown(() => client.close());
  return {
    client,
    held,
    /** Resolves once `count` calls are held in the handler. */
    whenHeld: (count: number) => new Promise<void>((resolve) => {
      const check = () => {
        if (held.length >= count) resolve();
      };
      onHeld = check;
      check();
    }),
  };
}

t.test('unary requests and answers are encoded in place, answers with trailers too', async (t) => {
  const requestUses: Uses = { encode: 0, inPlace: 0, failInto: false };
  const responseUses: Uses = { encode: 0, inPlace: 0, failInto: false };
  const { client } = await start(t, service(inPlaceJson(requestUses), inPlaceJson(responseUses)));
  // A call made before the connection is up waits for it: its request is encoded into bytes then.
  t.same(await client.invoke('Echo', { message: 'first' }), { message: 'first' });
  t.same([requestUses.encode, requestUses.inPlace, responseUses.encode, responseUses.inPlace], [1, 0, 0, 1], 'the first request waited for the handshake');
  requestUses.encode = requestUses.inPlace = responseUses.encode = responseUses.inPlace = 0;
  const pad = 'é'.repeat(200); // multi-byte: lengths are bytes, not characters
  const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => client.invoke('Echo', { message: `${i}${pad}` })));
  t.same(answers, Array.from({ length: 50 }, (_, i) => ({ message: `${i}${pad}` })), 'every answer intact, each to its call');
  t.equal(requestUses.inPlace, 50, 'each request was written through encodeInto');
  t.equal(responseUses.inPlace, 50, 'each answer too');
  t.equal(requestUses.encode + responseUses.encode, 0, 'no encode() on either side');

  // An answer with trailers is not the plain frame: encoded into bytes of its own, then fitted.
  const result = await client.invokeWithResult('Echo', { message: 'with trailers', trailer: 'kept' });
  t.same(result.response, { message: 'with trailers' });
  t.equal(result.metadata.get('x-trailer'), 'kept', 'the trailer arrived');
  t.equal(responseUses.inPlace, 51, 'through encodeInto as well');
});

t.test('a request that waits for a free stream keeps the bytes of the message as it was when the call was made', async (t) => {
  const requestUses: Uses = { encode: 0, inPlace: 0, failInto: false };
  const { client, held, whenHeld } = await start(t, service(inPlaceJson(requestUses), jsonCodec), { maxConcurrentStreams: 1 });
  await client.invoke('Echo', { message: 'handshake done' }); // the server's limit is known from here on
  const first = client.invoke('Echo', { message: 'first', hold: true });
  await whenHeld(1);
  const encodedBefore = requestUses.encode;
  const message = { message: 'as called' };
  const second = client.invoke('Echo', message); // waits here: the server runs one call at a time
  message.message = 'changed afterwards';
  t.equal(requestUses.encode, encodedBefore + 1, 'the waiting request was encoded when it was made');
  held[0]!();
  t.same(await first, { message: 'first' });
  t.same(await second, { message: 'as called' }, 'the server got the message as it was');
});

t.test('a request codec that breaks its contract fails that call alone, never sent, and the connection carries on', async (t) => {
  const requestUses: Uses = { encode: 0, inPlace: 0, failInto: false };
  const { client } = await start(t, service(inPlaceJson(requestUses), jsonCodec));
  t.same(await client.invoke('Echo', { message: 'before' }), { message: 'before' });

  const refused = await client.invoke('Echo', { message: 'x', poison: true }).catch((e: RpcError) => e);
  t.match(refused, { code: Code.INVALID_ARGUMENT, mayHaveRun: false, message: /could not be encoded: poisoned message/ }, 'encodedLength refusing: INVALID_ARGUMENT');

  requestUses.failInto = 'throw';
  const thrown = await client.invoke('Echo', { message: 'throws' }).catch((e: RpcError) => e);
  t.match(thrown, { code: Code.INVALID_ARGUMENT, mayHaveRun: false, message: /could not be encoded: a codec that breaks its contract/ }, 'encodeInto throwing');

  requestUses.failInto = 'short';
  const short = await client.invoke('Echo', { message: 'short' }).catch((e: RpcError) => e);
  t.match(short, { code: Code.INTERNAL, mayHaveRun: false, message: /the codec wrote \d+ bytes of a message it measured at \d+/ }, 'encodeInto writing another length');

  requestUses.failInto = false;
  const after = await Promise.all([client.invoke('Echo', { message: 'after 1' }), client.invoke('Echo', { message: 'after 2' })]);
  t.same(after, [{ message: 'after 1' }, { message: 'after 2' }], 'nothing of the failed frames went out: the next calls are answered');
});

t.test('a response codec that breaks its contract fails that call INTERNAL, and the connection carries on', async (t) => {
  const responseUses: Uses = { encode: 0, inPlace: 0, failInto: false };
  const { client } = await start(t, service(jsonCodec, inPlaceJson(responseUses)));

  const refused = await client.invoke('Echo', { message: 'x', answerPoison: true }).catch((e: RpcError) => e);
  t.match(refused, { code: Code.INTERNAL, message: /could not be encoded: poisoned message/ }, 'encodedLength refusing the answer');

  responseUses.failInto = 'throw';
  const thrown = await client.invoke('Echo', { message: 'throws' }).catch((e: RpcError) => e);
  t.match(thrown, { code: Code.INTERNAL, mayHaveRun: true, message: /could not encode its answer: a codec that breaks its contract/ });
  const thrownWithTrailers = await client.invoke('Echo', { message: 'throws', trailer: 't' }).catch((e: RpcError) => e);
  t.match(thrownWithTrailers, { code: Code.INTERNAL, message: /could not encode its answer/ }, 'on the path with trailers too');

  responseUses.failInto = 'short';
  const short = await client.invoke('Echo', { message: 'short' }).catch((e: RpcError) => e);
  t.match(short, { code: Code.INTERNAL, message: /could not encode its answer: the codec wrote \d+ bytes of a message it measured at \d+/ });

  responseUses.failInto = false;
  const after = await Promise.all([client.invoke('Echo', { message: 'after 1' }), client.invoke('Echo', { message: 'after 2' })]);
  t.same(after, [{ message: 'after 1' }, { message: 'after 2' }], 'the next answers arrive intact');
});
