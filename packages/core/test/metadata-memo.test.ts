import t from 'tap';
import { Code, definePlugin, MemoryRegistry, RpcClient, RpcServer, ServerInterceptorOrder, type ServerInvocation } from '../src/index.js';
import { FrameType } from '../src/transport/frame.js';
import { ECHO, echoHandlers, startEchoServer } from './fixtures/json-service.js';
import { fixedHeader, RawPeer, responseHeader } from './fixtures/raw-peer.js';

/**
 * The client keeps the last request metadata block it encoded and the server the last one it decoded
 * (packages/core/src/transport/header-codec.ts): a call with the same entries reuses them. Whatever
 * changes between calls — a value of the same length, an entry more or less, a handler changing its
 * own metadata, fields after the entries — each call must see exactly what it sent.
 */

interface Echoed {
  metadata: Record<string, string>;
  attempt: number;
}

t.test('every call sees its own metadata, however it differs from the call before', async (t) => {
  const { server, address } = await startEchoServer('a');
  const client = new RpcClient({ service: ECHO, addresses: [address] });
  t.teardown(async () => { await client.close(); await server.close(); });
  const call = async (metadata: Record<string, string> | undefined) =>
    ((await client.invoke('Echo', { message: 'm' }, metadata === undefined ? undefined : { metadata })) as Echoed).metadata;

  const sequence: (Record<string, string> | undefined)[] = [
    { authorization: 'token-aaaaaaaaaaaaaaaa' },
    { authorization: 'token-aaaaaaaaaaaaaaaa' },
    { authorization: 'token-aaaaaaaaaaaaaaab' }, // same length, one byte differs
    { authorization: 'token-aaaaaaaaaaaaaaab' },
    { authorization: 'token-aaaaaaaaaaaaaaab', 'x-more': 'v' },
    { 'x-more': 'v', authorization: 'token-aaaaaaaaaaaaaaab' }, // same entries, other order
    undefined,
    { authorization: 'tökén-ünïcødé-ãåäâàá' },
    { authorization: 'tökén-ünïcødé-ãåäâàá' },
    { authorization: 'token-aaaaaaaaaaaaaaaa' },
  ];
  for (const [i, metadata] of sequence.entries()) {
    t.same(await call(metadata), metadata ?? {}, `call ${i}: ${JSON.stringify(metadata)}`);
  }
  // The same strings built anew (equal content, other objects) and the very same ones again.
  const value = ['token-', 'b'.repeat(16)].join('');
  t.same(await call({ authorization: value }), { authorization: value }, 'an equal string built anew');
  t.same(await call({ authorization: value }), { authorization: value }, 'the same string again');
});

t.test('a handler that changes its request metadata does not change the next request\'s', async (t) => {
  const server = new RpcServer({ host: '127.0.0.1', registry: new MemoryRegistry() });
  const run = (request: { message?: string }, call: ServerInvocation) => {
    const metadata = Object.fromEntries(call.metadata);
    if (request.message === 'change') {
      call.metadata.set('authorization', 'changed by the handler');
      call.metadata.set('x-added', 'yes');
    }
    return { metadata, attempt: call.attempt };
  };
  server.addService(ECHO, { echo: run, mutate: run });
  await server.start();
  const client = new RpcClient({ service: ECHO, addresses: [`127.0.0.1:${server.port}`] });
  t.teardown(async () => { await client.close(); await server.close(); });
  const metadata = { authorization: 'token-cccccccccccccccc' };
  for (const message of ['first', 'change', 'after', 'change', 'after']) {
    const echoed = (await client.invoke('Echo', { message }, { metadata })) as Echoed;
    t.same(echoed.metadata, metadata, `${message}: the request's own metadata`);
  }
});

/** Hand-written protobuf: a length-delimited string field. */
function stringField(field: number, value: string): Buffer {
  const bytes = Buffer.from(value);
  return Buffer.concat([Buffer.from([(field << 3) | 2, bytes.length]), bytes]);
}

function entry(key: string, value: string): Buffer {
  const inner = Buffer.concat([stringField(1, key), stringField(2, value)]);
  return Buffer.concat([Buffer.from([58, inner.length]), inner]);
}

const ROUTE = Buffer.concat([stringField(1, 'test.Echo'), stringField(2, 'Echo'), stringField(3, 'default')]);

/** A REQUEST frame with a header written by hand (fields in any order). */
function request(streamId: number, ...fields: Buffer[]): Buffer {
  const header = Buffer.concat([ROUTE, ...fields]);
  const body = Buffer.from(JSON.stringify({ message: 'raw' }));
  return Buffer.concat([fixedHeader({ type: FrameType.REQUEST, streamId, headerLength: header.length, bodyLength: body.length }), header, body]);
}

t.test('headers written otherwise than the kernel writes them decode as before', async (t) => {
  const { server } = await startEchoServer('a', { tcp: { limits: { maxMetadataEntries: 2 } } });
  const peer = await RawPeer.connect(server.port);
  t.teardown(async () => { peer.destroy(); await server.close(); });
  let streamId = 1;
  const send = async (...fields: Buffer[]) => {
    const id = (streamId += 2);
    peer.write(request(id, ...fields));
    const frame = await peer.response(id);
    const header = responseHeader(frame);
    const echoed = header.code === Code.OK ? (JSON.parse(frame.body.toString()) as Echoed) : undefined;
    return { code: header.code, body: echoed && { metadata: echoed.metadata, attempt: echoed.attempt } };
  };
  const attempt3 = Buffer.from([48, 3]);
  const timeout = Buffer.from([40, 0xe8, 0x07]); // 1000 ms

  t.same((await send(entry('k', 'a'), timeout)).body?.metadata, { k: 'a' }, 'entries then the timeout');
  t.same((await send(entry('k', 'a'))).body, { metadata: { k: 'a' }, attempt: 1 }, 'entries only');
  t.same((await send(entry('k', 'a'))).body, { metadata: { k: 'a' }, attempt: 1 }, 'the same entries again');
  t.same((await send(entry('k', 'a'), attempt3)).body, { metadata: { k: 'a' }, attempt: 3 }, 'the same entries followed by another field: the field is read');
  t.same((await send(entry('k', 'a'), attempt3)).body, { metadata: { k: 'a' }, attempt: 3 }, 'the same header again: the field is read again');
  t.same((await send(entry('k', 'a'))).body, { metadata: { k: 'a' }, attempt: 1 }, 'and not carried over to the next request');
  t.same((await send(entry('k', '1'), entry('k', '2'))).body?.metadata, { k: '2' }, 'a repeated key: the last value');
  t.same((await send(entry('k', '1'), entry('k', '2'))).body?.metadata, { k: '2' }, 'the same repeated key again');
  t.same((await send(entry('k', 'b'))).body?.metadata, { k: 'b' }, 'a value of the same length');

  const three = [entry('a', '1'), entry('b', '2'), entry('c', '3')];
  t.equal((await send(...three)).code, Code.RESOURCE_EXHAUSTED, 'more entries than maxMetadataEntries');
  t.equal((await send(...three)).code, Code.RESOURCE_EXHAUSTED, 'the same header again: refused again');
  const truncated = entry('k', 'a').subarray(0, 5);
  t.equal((await send(entry('k', 'a'))).code, Code.OK, 'a good one');
  t.equal((await send(truncated)).code, Code.INVALID_ARGUMENT, 'a truncated entry after it: a coded error');
  t.same((await send(entry('k', 'a'))).body?.metadata, { k: 'a' }, 'and the connection serves the next');
});

t.test('a block of the same length that differs in any one byte is read as itself, whatever its length modulo 4', async (t) => {
  // The remembered block is compared four bytes at a time plus a tail of 0–3 bytes: a difference in
  // any word or in the tail must show. Blocks of 12–15 bytes (values of 5–8 characters).
  const { server } = await startEchoServer('a');
  const peer = await RawPeer.connect(server.port);
  t.teardown(async () => { peer.destroy(); await server.close(); });
  let streamId = 1;
  const metadataOf = async (value: string) => {
    const id = (streamId += 2);
    peer.write(request(id, entry('k', value)));
    const frame = await peer.response(id);
    return (JSON.parse(frame.body.toString()) as Echoed).metadata;
  };
  for (let length = 5; length <= 8; length++) {
    const base = 'abcdefgh'.slice(0, length);
    t.same(await metadataOf(base), { k: base }, `${length} characters: the block`);
    t.same(await metadataOf(base), { k: base }, `${length} characters: the same block again`);
    for (let i = 0; i < length; i++) {
      const other = `${base.slice(0, i)}z${base.slice(i + 1)}`;
      t.same(await metadataOf(other), { k: other }, `${length} characters, character ${i} differs`);
      t.same(await metadataOf(base), { k: base }, `${length} characters: the first block after it`);
      // A repeat: the memo holds the first block again (a hit), so the next one is compared with it.
      t.same(await metadataOf(base), { k: base }, `${length} characters: the first block repeated`);
    }
  }
});

t.test('a route of the same length that differs in any one byte is not taken for the remembered one', async (t) => {
  // The remembered route is compared four bytes at a time as well. Here it is 30 bytes, seven words
  // and a tail of two ("v1"): two versions of the service answer apart, so a version one character
  // off in the tail must reach the other one; a method or a group one character off is no route.
  const server = new RpcServer({ host: '127.0.0.1', registry: new MemoryRegistry() });
  server.addService(ECHO, echoHandlers('one'), { version: 'v1' });
  server.addService(ECHO, echoHandlers('two'), { version: 'v2' });
  await server.start();
  const peer = await RawPeer.connect(server.port!);
  t.teardown(async () => { peer.destroy(); await server.close(); });
  let streamId = 1;
  const call = async (method: string, group: string, version: string) => {
    const id = (streamId += 2);
    const header = Buffer.concat([stringField(1, 'test.Echo'), stringField(2, method), stringField(3, group), stringField(4, version)]);
    const body = Buffer.from(JSON.stringify({ message: 'raw' }));
    peer.write(Buffer.concat([fixedHeader({ type: FrameType.REQUEST, streamId: id, headerLength: header.length, bodyLength: body.length }), header, body]));
    const frame = await peer.response(id);
    const code = responseHeader(frame).code;
    return code === Code.OK ? (JSON.parse(frame.body.toString()) as { servedBy: string }).servedBy : Code[code];
  };
  const variants: [string, string, string, string][] = [
    ['Echo', 'default', 'v2', 'two'], ['Fcho', 'default', 'v1', 'UNIMPLEMENTED'], ['Ecio', 'default', 'v1', 'UNIMPLEMENTED'],
    ['Echo', 'dgfault', 'v1', 'UNIMPLEMENTED'], ['Echo', 'defaulu', 'v1', 'UNIMPLEMENTED'], ['Echo', 'default', 'w1', 'one'],
  ];
  for (const [method, group, version, expected] of variants) {
    t.equal(await call('Echo', 'default', 'v1'), 'one', 'the route');
    t.equal(await call('Echo', 'default', 'v1'), 'one', 'the route again (remembered)');
    t.equal(await call(method, group, version), expected, `${method}/${group}/${version}`);
  }
  t.equal(await call('Echo', 'default', 'v1'), 'one', 'and the route after them');
});

t.test('requestMetadata: the same entries read-only, shared by repeated blocks, the call\'s own Map once made', async (t) => {
  const seen: { gate: ReadonlyMap<string, string>; entries: Record<string, string>; refused: string }[] = [];
  const ends: Record<string, string>[] = [];
  const plugin = definePlugin({
    meta: { name: 'reader', kernel: '^0.1.0' },
    setupServer(ctx) {
      ctx.addGate({
        admit(call) {
          const view = call.requestMetadata;
          let refused = 'not tried';
          // The third call's (a repeated block): a plugin that ignores the type and writes is refused.
          if (seen.length === 2) {
            try {
              (view as Map<string, string>).set('x-gate', 'written');
              refused = 'no';
            } catch (error) {
              refused = (error as Error).constructor.name;
            }
          }
          seen.push({ gate: view, entries: Object.fromEntries(view), refused });
          return undefined;
        },
      }, ServerInterceptorOrder.USER);
      ctx.observe({ callEnd: (end) => void ends.push(Object.fromEntries(end.invocation.requestMetadata)) });
    },
  });
  const server = new RpcServer({ host: '127.0.0.1', registry: new MemoryRegistry(), plugins: [plugin] });
  const run = (request: { message?: string }, call: ServerInvocation) => {
    const metadata = Object.fromEntries(call.metadata);
    if (request.message === 'change') call.metadata.set('x-added', 'by the handler');
    return { metadata, attempt: call.attempt };
  };
  server.addService(ECHO, { echo: run, mutate: run });
  await server.start();
  const client = new RpcClient({ service: ECHO, addresses: [`127.0.0.1:${server.port}`] });
  t.teardown(async () => { await client.close(); await server.close(); });
  const metadata = { authorization: 'token-dddddddddddddddd' };
  for (const message of ['first', 'second', 'change', 'after']) {
    const echoed = (await client.invoke('Echo', { message }, { metadata })) as Echoed;
    t.same(echoed.metadata, metadata, `${message}: the handler's metadata is what was sent`);
  }
  t.same(seen.map((s) => s.entries), [metadata, metadata, metadata, metadata], 'gates read the entries sent, every call');
  t.equal(seen[2]!.gate, seen[1]!.gate, 'a repeated block: the very same read-only Map');
  t.equal(seen[3]!.gate, seen[1]!.gate, 'still shared after a handler changed its own metadata');
  t.equal(seen[2]!.refused, 'TypeError', 'the shared Map refuses writes');
  t.same(ends, [metadata, metadata, { ...metadata, 'x-added': 'by the handler' }, metadata],
    'read after the handler: its own Map, with its change, only for its own call');
  t.equal(await client.invoke('Echo', { message: 'none' }).then((e) => Object.keys((e as Echoed).metadata).length), 0, 'a call with no metadata');
  t.same(seen.at(-1)!.entries, {}, 'reads as empty');
});
