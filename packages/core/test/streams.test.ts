import t from 'tap';
import { Code, type RpcError } from '../src/errors.js';
import { TcpClientTransport } from '../src/transport/tcp-client-transport.js';
import { TcpServerTransport } from '../src/transport/tcp-server-transport.js';
import { collect, streamRig, unaryRequest, until } from './fixtures/stream-transport.js';

const text = (s: string): Uint8Array => Buffer.from(s);

t.test('server streaming: headers, every message in order, trailers', async (t) => {
  const rig = await streamRig(t);
  const stream = rig.open('Count', 'server-streaming', { metadata: new Map([['who', 'test']]) });
  t.type(stream.send(text('500')), Promise, 'before the connection is up there is no credit yet: send() returns a promise');
  stream.end();
  t.same(Object.fromEntries(await stream.headers), { count: '500' }, 'response headers');
  const got = await collect(stream.responses);
  t.same(got, Array.from({ length: 500 }, (_, i) => String(i)));
  t.same(Object.fromEntries(await stream.trailers), { done: 'yes' }, 'trailers after OK');
  t.equal(rig.log.seen[0]!.kind, 'server-streaming');
  t.equal(rig.log.seen[0]!.metadata.get('who'), 'test', 'request metadata reached the server');
  const second = rig.open('Count', 'server-streaming');
  t.equal(second.send(text('3')), undefined, 'on an open connection, a send within the credit returns undefined (no promise)');
  second.end();
  t.same(await collect(second.responses), ['0', '1', '2']);
});

t.test('client streaming: many messages, one answer after the half-close', async (t) => {
  const rig = await streamRig(t);
  const stream = rig.open('Sum', 'client-streaming');
  let total = 0;
  for (let i = 0; i < 2000; i++) {
    const body = Buffer.alloc(100 + (i % 50));
    total += body.length;
    const wait = stream.send(body);
    if (wait) await wait;
  }
  stream.end();
  t.same(await collect(stream.responses), [String(total)]);
  t.same(Object.fromEntries(await stream.trailers), {});
});

t.test('bidirectional: answers flow before the client has finished sending', async (t) => {
  const rig = await streamRig(t);
  const stream = rig.open('Echo', 'bidi-streaming');
  const responses = stream.responses[Symbol.asyncIterator]();
  for (let i = 0; i < 50; i++) {
    await stream.send(text(`ping ${i}`));
    const answer = await responses.next();
    t.equal(Buffer.from(answer.value as Uint8Array).toString(), `ping ${i}`);
  }
  stream.end();
  t.same(await responses.next(), { value: undefined, done: true }, 'ends at the server\'s OK after the half-close');
});

t.test('the transport carries timeoutMs and attempt to the server', async (t) => {
  const rig = await streamRig(t);
  const stream = rig.open('Deadline', 'server-streaming', { timeoutMs: 4321, attempt: 2 });
  stream.end();
  t.same(await collect(stream.responses), ['4321']);
  t.equal(rig.log.seen[0]!.attempt, 2);
});

t.test('a server error after messages: the messages, then the coded error with its trailers', async (t) => {
  const rig = await streamRig(t);
  const stream = rig.open('Fail', 'server-streaming');
  stream.end();
  const got: string[] = [];
  const error = await (async () => {
    try {
      for await (const m of stream.responses) got.push(Buffer.from(m).toString());
    } catch (e) {
      return e as RpcError;
    }
    return undefined;
  })();
  t.same(got, ['partial']);
  t.equal(error?.code, Code.FAILED_PRECONDITION);
  t.equal(error?.mayHaveRun, true);
  t.equal(error?.metadata?.get('why'), 'test');
  await t.rejects(stream.trailers, { code: Code.FAILED_PRECONDITION });
});

t.test('client cancel: the server\'s signal aborts with CANCELLED, the client\'s loop throws CANCELLED', async (t) => {
  const rig = await streamRig(t);
  const controller = new AbortController();
  const stream = rig.open('Hang', 'server-streaming', { signal: controller.signal });
  stream.end();
  t.same(Object.fromEntries(await stream.headers), { hanging: '1' });
  const responses = stream.responses[Symbol.asyncIterator]();
  t.equal(Buffer.from((await responses.next()).value as Uint8Array).toString(), 'first');
  controller.abort(new Error('user left'));
  await t.rejects(responses.next(), { code: Code.CANCELLED, mayHaveRun: true });
  await until(() => rig.log.aborts.length === 1, 20_000, 'the server-side abort');
  t.equal(rig.log.aborts[0]!.reason.code, Code.CANCELLED);
  t.match(rig.log.aborts[0]!.reason.message, /cancelled by the client: stream cancelled by the caller: user left/);
  await until(() => rig.log.finished === 1, 20_000, 'the handler to return');
  t.throws(() => stream.send(text('late')), { code: Code.CANCELLED }, 'send after cancel throws the stream\'s error');
});

t.test('leaving the loop early (break) cancels the stream on the server', async (t) => {
  const rig = await streamRig(t);
  const stream = rig.open('Flood', 'server-streaming');
  stream.end();
  let n = 0;
  for await (const _m of stream.responses) if (++n === 10) break;
  await until(() => rig.log.aborts.length === 1, 20_000, 'the server-side abort');
  t.equal(rig.log.aborts[0]!.reason.code, Code.CANCELLED);
});

t.test('server cancel: the handler fails with CANCELLED, the client sees CANCELLED', async (t) => {
  const rig = await streamRig(t);
  const stream = rig.open('Nope', 'bidi-streaming');
  await t.rejects(collect(stream.responses), { code: Code.UNIMPLEMENTED });
});

t.test('the provider\'s socket destroyed mid-stream: UNAVAILABLE, mayHaveRun true; the server\'s signal aborts', async (t) => {
  const rig = await streamRig(t);
  const stream = rig.open('Hang', 'server-streaming');
  stream.end();
  await stream.headers;
  // Kill the connection from the provider side: the server closes every connection at once.
  await rig.listener.close();
  await t.rejects(collect(stream.responses), { code: Code.UNAVAILABLE, mayHaveRun: true });
  await until(() => rig.log.aborts.length === 1, 20_000, 'the server-side abort');
});

t.test('a stream open after GOAWAY fails never-ran; open streams finish within the grace period', async (t) => {
  const rig = await streamRig(t);
  const running = rig.open('Echo', 'bidi-streaming');
  await running.send(text('before'));
  const answers = running.responses[Symbol.asyncIterator]();
  t.equal(Buffer.from((await answers.next()).value as Uint8Array).toString(), 'before');
  rig.listener.goAway('stopping for the test');
  await until(() => rig.client.state(rig.endpoint) === 'draining', 20_000, 'the client to read the GOAWAY');
  const late = rig.open('Count', 'server-streaming');
  await t.rejects(late.headers, { code: Code.UNAVAILABLE, mayHaveRun: false }, 'new opens after GOAWAY never ran');
  await running.send(text('after goaway'));
  t.equal(Buffer.from((await answers.next()).value as Uint8Array).toString(), 'after goaway', 'the open stream carries on');
  running.end();
  t.same(await answers.next(), { value: undefined, done: true }, 'and finishes OK');
  await rig.listener.drained();
  t.pass('the connection closed once its stream was done');
});

t.test('GOAWAY grace over: open streams are cancelled with UNAVAILABLE', async (t) => {
  const rig = await streamRig(t);
  const stream = rig.open('Hang', 'server-streaming');
  stream.end();
  await stream.headers;
  rig.listener.goAway('stopping');
  await until(() => rig.client.state(rig.endpoint) === 'draining', 20_000, 'the client to read the GOAWAY');
  await rig.listener.close(); // the grace period is over
  const error = await collect(stream.responses).then(() => undefined, (e: RpcError) => e);
  t.equal(error?.code, Code.UNAVAILABLE);
  t.equal(error?.mayHaveRun, true);
  await until(() => rig.log.aborts.length === 1, 20_000, 'the server-side abort');
  t.equal(rig.log.aborts[0]!.reason.code, Code.UNAVAILABLE);
});

t.test('past the server\'s maxOpenStreams an open fails RESOURCE_EXHAUSTED, never ran', async (t) => {
  const rig = await streamRig(t, { server: { maxOpenStreams: 3 } });
  const open = [0, 1, 2].map(() => rig.open('Hang', 'server-streaming'));
  for (const s of open) await s.headers;
  const fourth = rig.open('Hang', 'server-streaming');
  await t.rejects(fourth.headers, { code: Code.RESOURCE_EXHAUSTED, mayHaveRun: false, message: /maxOpenStreams/ });
  open[0]!.cancel();
  await until(() => rig.log.aborts.length === 1, 20_000, 'the cancel to reach the server');
  const again = rig.open('Hang', 'server-streaming');
  t.same(Object.fromEntries(await again.headers), { hanging: '1' }, 'a slot freed by a cancel is usable');
});

t.test('a server without stream handlers: the open fails UNIMPLEMENTED, never ran, saying why', async (t) => {
  const rig = await streamRig(t, { handler: false });
  const stream = rig.open('Count', 'server-streaming');
  await t.rejects(stream.headers, { code: Code.UNIMPLEMENTED, mayHaveRun: false, message: /does not support streams/ });
  await t.rejects(collect(stream.responses), { code: Code.UNIMPLEMENTED });
  t.equal(new TextDecoder().decode((await rig.client.call(rig.endpoint, unaryRequest('m'))).body), 'unary', 'unary calls on that connection are unaffected');
});

t.test('send after end() throws; an oversize message is refused before sending, the stream goes on', async (t) => {
  const rig = await streamRig(t, { server: { limits: { maxBodySize: 2048 } } });
  const stream = rig.open('Echo', 'bidi-streaming');
  await stream.send(text('fine'));
  const responses = stream.responses[Symbol.asyncIterator]();
  t.equal(Buffer.from((await responses.next()).value as Uint8Array).toString(), 'fine');
  t.throws(() => stream.send(Buffer.alloc(4096)), { code: Code.RESOURCE_EXHAUSTED, message: /maxBodySize/ }, 'checked against the server\'s SETTINGS');
  await stream.send(text('still fine'));
  stream.end();
  t.throws(() => stream.send(text('x')), { code: Code.FAILED_PRECONDITION });
  t.equal(Buffer.from((await responses.next()).value as Uint8Array).toString(), 'still fine');
  t.same(await responses.next(), { value: undefined, done: true });
});

t.test('a signal aborted before the open: CANCELLED, never ran, nothing reaches the server', async (t) => {
  const rig = await streamRig(t);
  const stream = rig.open('Count', 'server-streaming', { signal: AbortSignal.abort() });
  await t.rejects(stream.headers, { code: Code.CANCELLED, mayHaveRun: false });
  const after = rig.open('Count', 'server-streaming');
  await after.send(text('1'));
  after.end();
  t.same(await collect(after.responses), ['0']);
  t.equal(rig.log.opened, 1, 'only the second stream was opened on the server');
});

t.test('stream options are checked when the transport is built', (t) => {
  t.throws(() => new TcpServerTransport({ streamWindow: 100 }), { code: 'ERR_INVALID_OPTION', message: /"streamWindow" is 100/ });
  t.throws(() => new TcpServerTransport({ maxOpenStreams: 0 }), { code: 'ERR_INVALID_OPTION', message: /"maxOpenStreams" is 0/ });
  t.throws(() => new TcpClientTransport({ streamWindow: 2 ** 31 }), { code: 'ERR_INVALID_OPTION', message: /"streamWindow"/ });
  t.end();
});
