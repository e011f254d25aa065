import { connect, createServer, type Socket } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Code, RpcClient, RpcError, RpcServer, TcpClientTransport, TcpServerTransport,
  type BidiStreamingCall, type CallEnd, type ClientStreamingCall, type Interceptor, type Plugin, type ServerInterceptor,
  type ServerInvocation, type ServerStreamingCall, type UnaryCall,
} from '@trellis/core';
import type { Attempt, ClientTransport, ServerTransport } from '@trellis/core/spi';
import { loadProto } from '@trellis/codec-protobuf';
import { refusingPort, waitFor } from '@trellis/testkit';
import t, { type Test } from 'tap';
import { GrpcClientTransport, GrpcServerTransport } from '../src/index.js';

/**
 * The kernel's streams (issue #18) end to end through RpcServer / RpcClient and typed stubs from a
 * .proto, over real sockets on loopback, once per transport that implements the stream SPI: the
 * gRPC adapters (HTTP/2) now, the native TCP protocol as soon as its `openStream` exists.
 */
const streams = loadProto(path.join(__dirname, 'fixtures', 'streams.proto')).service('trellis.streams.Streams');

interface Event { seq: number; text: string }
interface WatchRequest { count?: number; intervalMs?: number; failAfter?: number; failCode?: number }
interface Summary { count: number; text: string }
/** The shape `trellis-proto-gen` writes for this service's client. */
interface StreamsClient {
  watch: ServerStreamingCall<WatchRequest, Event>;
  record: ClientStreamingCall<Partial<Event>, Summary>;
  chat: BidiStreamingCall<Partial<Event>, Event>;
  ping: UnaryCall<Partial<Event>, Event>;
}

interface TransportKind {
  readonly name: string;
  readonly client: () => ClientTransport;
  readonly server: () => ServerTransport;
  readonly skip: string | false;
}

const transports: TransportKind[] = [
  { name: 'gRPC over HTTP/2', client: () => new GrpcClientTransport(), server: () => new GrpcServerTransport(), skip: false },
  {
    name: 'native TCP',
    client: () => new TcpClientTransport(),
    server: () => new TcpServerTransport(),
    skip: (TcpClientTransport.prototype as Partial<ClientTransport>).openStream === undefined ? 'the native transport has no openStream yet' : false,
  },
];

/** What the handlers saw, for the assertions on the server side. */
class Probe {
  finallyRan = 0;
  aborts: RpcError[] = [];
  readonly calls: string[] = [];
  waiters: (() => void)[] = [];

  note(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }

  async until(condition: () => boolean, what: string): Promise<void> {
    await waitFor(condition, { timeoutMs: 10_000, what });
  }
}

function handlers(probe: Probe) {
  return {
    async *watch(request: WatchRequest, call: ServerInvocation) {
      call.signal.addEventListener('abort', () => probe.aborts.push(call.signal.reason as RpcError));
      call.responseHeaders!.set('x-kind', 'watch');
      try {
        for (let seq = 1; request.count === 0 || seq <= request.count!; seq++) {
          if (request.failAfter && seq > request.failAfter) throw new RpcError(request.failCode as Code, `failed after ${request.failAfter}`);
          if (request.intervalMs) await sleep(request.intervalMs, undefined, { signal: call.signal }).catch(() => undefined);
          if (call.signal.aborted) return;
          yield { seq, text: `event ${seq}` };
        }
        call.responseMetadata.set('x-sent', String(request.count));
      } finally {
        probe.finallyRan++;
        probe.note();
      }
    },
    async record(requests: AsyncIterable<Event>, call: ServerInvocation) {
      let count = 0;
      let text = '';
      for await (const event of requests) {
        count++;
        text += event.text;
      }
      call.responseMetadata.set('x-count', String(count));
      return { count, text };
    },
    async *chat(requests: AsyncIterable<Event>, call: ServerInvocation) {
      call.signal.addEventListener('abort', () => probe.aborts.push(call.signal.reason as RpcError));
      try {
        // Answers before reading anything: both directions are independent.
        yield { seq: 0, text: 'hello' };
        for await (const event of requests) yield { seq: event.seq, text: `re: ${event.text}` };
      } finally {
        probe.finallyRan++;
        probe.note();
      }
    },
    async ping(event: Event) {
      return event;
    },
  };
}

/** A TCP relay to the server whose `drop()` destroys every connection: the network side of a provider killed with -9. */
async function relay(t: Test, port: number): Promise<{ port: number; drop(): void }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    port: (server.address() as { port: number }).port,
    drop: () => {
      for (const socket of sockets) socket.resetAndDestroy();
    },
  };
}

async function* events(count: number, gapMs = 0): AsyncGenerator<Partial<Event>> {
  for (let seq = 1; seq <= count; seq++) {
    if (gapMs) await sleep(gapMs);
    yield { seq, text: String.fromCharCode(96 + ((seq - 1) % 26) + 1) };
  }
}

async function startServer(kind: TransportKind, probe: Probe, plugins: Plugin[] = []): Promise<RpcServer> {
  const server = new RpcServer({ host: '127.0.0.1', transport: kind.server(), plugins }).addService(streams, handlers(probe));
  await server.start();
  return server;
}

function clientOf(kind: TransportKind, addresses: string[], plugins: Plugin[] = [], timeoutMs = 10_000): RpcClient {
  return new RpcClient({ service: streams, addresses, transport: kind.client(), plugins, timeoutMs });
}

for (const kind of transports) {
  t.test(`streams over ${kind.name}`, { skip: kind.skip }, async (t) => {
    t.test('every kind end to end, with headers, trailers and typed stubs', async (t) => {
      const probe = new Probe();
      const server = await startServer(kind, probe);
      t.teardown(() => server.close({ graceMs: 100 }));
      const client = clientOf(kind, [`127.0.0.1:${server.port}`]);
      t.teardown(() => client.close());
      const stub = client.stub<StreamsClient>();

      const watch = stub.watch({ count: 5 });
      const seen: number[] = [];
      for await (const event of watch) seen.push(event.seq);
      t.same(seen, [1, 2, 3, 4, 5], 'server streaming: every event, in order');
      t.equal((await watch.headers).get('x-kind'), 'watch', 'response headers set by the handler before its first yield');
      t.equal((await watch.trailers).get('x-sent'), '5', 'trailers from call.responseMetadata');

      const summary = await stub.record(events(40));
      t.same(summary, { count: 40, text: 'abcdefghijklmnopqrstuvwxyzabcdefghijklmn' }, 'client streaming: all 40 requests reached the handler, one response back');
      t.same(await stub.record([]), { count: 0, text: '' }, 'an empty request stream is a valid client stream');

      const replies: string[] = [];
      for await (const reply of stub.chat(events(3))) replies.push(reply.text);
      t.same(replies, ['hello', 're: a', 're: b', 're: c'], 'bidi: the server answered before reading, then echoed each message');

      t.same(await stub.ping({ seq: 7, text: 'x' }), { seq: 7, text: 'x' }, 'unary methods of the same service still work');
      const refused = await client.invoke('Watch', {}).catch((e: RpcError) => e);
      t.match(refused, { code: Code.INVALID_ARGUMENT, mayHaveRun: false }, 'invoke() on a server-streaming method says to use stream()');
      const raw: number[] = [];
      for await (const event of client.stream('Watch', { count: 2 }) as AsyncIterable<Event>) raw.push(event.seq);
      t.same(raw, [1, 2], 'client.stream() by method name');
    });

    t.test('interceptors and observers see a stream once; set-up is the attempt, the end is the call', async (t) => {
      const probe = new Probe();
      const serverSeen: string[] = [];
      const serverInterceptor: ServerInterceptor = (next) => async (call) => {
        serverSeen.push(`start ${call.method.name} ${call.method.kind}`);
        try {
          return await next(call);
        } finally {
          serverSeen.push(`end ${call.method.name}`);
        }
      };
      const server = await startServer(kind, probe, [{ meta: { name: 'seen', kernel: '*' }, setupServer: (ctx) => ctx.addInterceptor(serverInterceptor, 1000) }]);
      t.teardown(() => server.close({ graceMs: 100 }));
      const clientSeen: string[] = [];
      const attempts: { code: Code; latencyMs: number }[] = [];
      const ends: { code: Code; stream: CallEnd['stream'] }[] = [];
      const interceptor: Interceptor = (next) => async (invocation) => {
        clientSeen.push(`${invocation.method.name} ${invocation.method.kind} ${typeof (invocation.request as AsyncIterable<unknown>)[Symbol.asyncIterator]}`);
        const result = await next(invocation);
        clientSeen.push(`set up: ${typeof (result.response as AsyncIterable<unknown>)[Symbol.asyncIterator]}`);
        return result;
      };
      const plugin: Plugin = {
        meta: { name: 'watch-streams', kernel: '*' },
        setupClient: (ctx) => {
          ctx.addInterceptor(interceptor, 1000);
          ctx.observe({
            attemptEnd: (attempt: Attempt) => void attempts.push({ code: attempt.code, latencyMs: attempt.latencyMs }),
            callEnd: (call: CallEnd) => void ends.push({ code: call.code, stream: call.stream }),
          });
        },
      };
      const client = clientOf(kind, [`127.0.0.1:${server.port}`], [plugin]);
      t.teardown(() => client.close());
      const stub = client.stub<StreamsClient>();
      let count = 0;
      for await (const event of stub.chat(events(4))) if (event.seq >= 0) count++;
      t.equal(count, 5);
      t.same(clientSeen, ['Chat bidi-streaming function', 'set up: function'], 'the cluster chain ran once; request and response are async iterables');
      t.same(serverSeen, ['start Chat bidi-streaming', 'end Chat'], 'the server chain ran once, around the whole handler');
      t.equal(attempts.length, 1, 'one attempt: the set-up');
      t.equal(attempts[0]!.code, Code.OK);
      await waitFor(() => ends.length === 1, { what: 'callEnd after the stream' });
      t.match(ends[0], { code: Code.OK, stream: { setUp: true, messagesSent: 4, messagesReceived: 5 } }, 'callEnd at the end, with the stream counts');
    });

    t.test('leaving the loop cancels the stream on the server: signal aborts CANCELLED, finally runs', async (t) => {
      const probe = new Probe();
      const server = await startServer(kind, probe);
      t.teardown(() => server.close({ graceMs: 100 }));
      const client = clientOf(kind, [`127.0.0.1:${server.port}`]);
      t.teardown(() => client.close());
      const stub = client.stub<StreamsClient>();
      let taken = 0;
      for await (const event of stub.watch({ count: 0, intervalMs: 5 })) {
        taken = event.seq;
        if (taken === 3) break;
      }
      t.equal(taken, 3);
      await probe.until(() => probe.finallyRan === 1, 'the generator finally after the client left');
      t.equal(probe.aborts[0]?.code, Code.CANCELLED, 'the handler saw CANCELLED');

      const controller = new AbortController();
      const chat = stub.chat(events(1000, 5), { signal: controller.signal });
      const received: Event[] = [];
      const failure = await (async () => {
        for await (const reply of chat) {
          received.push(reply);
          if (received.length === 2) controller.abort();
        }
      })().catch((e: RpcError) => e);
      t.match(failure, { code: Code.CANCELLED }, 'the caller\'s signal cancels a bidi stream mid-way');
      await probe.until(() => probe.finallyRan === 2, 'the bidi generator finally');
    });

    t.test('errors from handlers, and a server that cancels, end the client loop with the status', async (t) => {
      const probe = new Probe();
      const server = await startServer(kind, probe);
      t.teardown(() => server.close({ graceMs: 100 }));
      const client = clientOf(kind, [`127.0.0.1:${server.port}`]);
      t.teardown(() => client.close());
      const stub = client.stub<StreamsClient>();
      for (const code of [Code.FAILED_PRECONDITION, Code.CANCELLED]) {
        const seen: number[] = [];
        const error = await (async () => {
          for await (const event of stub.watch({ count: 10, failAfter: 2, failCode: code })) seen.push(event.seq);
        })().catch((e: RpcError) => e);
        t.same(seen, [1, 2], 'the messages before the failure arrived');
        t.match(error, { code, message: 'failed after 2', mayHaveRun: true }, `the handler's ${Code[code]} is the client's error`);
      }
    });

    t.test('one deadline covers the whole stream, on both sides', async (t) => {
      const probe = new Probe();
      const server = await startServer(kind, probe);
      t.teardown(() => server.close({ graceMs: 100 }));
      const client = clientOf(kind, [`127.0.0.1:${server.port}`]);
      t.teardown(() => client.close());
      const stub = client.stub<StreamsClient>();
      const seen: number[] = [];
      const error = await (async () => {
        // 3 s: the dial and the stream's set-up on a loaded CI machine (a second or more in a stall)
        // leave messages time to flow.
        for await (const event of stub.watch({ count: 0, intervalMs: 20 }, { timeoutMs: 3000 })) seen.push(event.seq);
      })().catch((e: RpcError) => e);
      t.match(error, { code: Code.DEADLINE_EXCEEDED }, 'the loop ends with DEADLINE_EXCEEDED');
      t.ok(seen.length > 0, 'messages flowed until the deadline');
      await probe.until(() => probe.finallyRan === 1, 'the server generator ended at the deadline');
    });

    t.test('a provider that goes away mid-stream: UNAVAILABLE, mayHaveRun true', async (t) => {
      const probe = new Probe();
      const server = await startServer(kind, probe);
      const client = clientOf(kind, [`127.0.0.1:${server.port}`]);
      t.teardown(() => client.close());
      const stub = client.stub<StreamsClient>();
      const seen: number[] = [];
      const error = await (async () => {
        for await (const event of stub.watch({ count: 0, intervalMs: 10 })) {
          seen.push(event.seq);
          if (seen.length === 3) void server.close({ graceMs: 0 });
        }
      })().catch((e: RpcError) => e);
      t.ok(error instanceof RpcError, 'the loop throws');
      t.equal((error as RpcError).code, Code.UNAVAILABLE, `UNAVAILABLE (${(error as RpcError).message})`);
      t.equal((error as RpcError).mayHaveRun, true, 'the stream ran');
      await probe.until(() => probe.finallyRan === 1, 'the handler was stopped');
    });

    t.test('a connection dropped mid-stream (a provider killed): UNAVAILABLE, mayHaveRun true; the handler is aborted', async (t) => {
      const probe = new Probe();
      const server = await startServer(kind, probe);
      t.teardown(() => server.close({ graceMs: 100 }));
      const link = await relay(t, server.port);
      const client = clientOf(kind, [`127.0.0.1:${link.port}`]);
      t.teardown(() => client.close());
      const seen: number[] = [];
      const error = await (async () => {
        for await (const event of client.stub<StreamsClient>().watch({ count: 0, intervalMs: 10 })) {
          seen.push(event.seq);
          if (seen.length === 3) link.drop();
        }
      })().catch((e: RpcError) => e);
      t.ok(error instanceof RpcError, 'the loop throws');
      t.equal((error as RpcError).code, Code.UNAVAILABLE, `UNAVAILABLE (${(error as RpcError).message})`);
      t.equal((error as RpcError).mayHaveRun, true, 'the stream ran');
      await probe.until(() => probe.finallyRan === 1, 'the handler saw the drop');
      t.equal(probe.aborts[0]?.code, Code.CANCELLED, 'its signal aborted');
    });

    t.test('graceful stop lets an open stream finish within the grace period', async (t) => {
      const probe = new Probe();
      const server = await startServer(kind, probe);
      const client = clientOf(kind, [`127.0.0.1:${server.port}`]);
      t.teardown(() => client.close());
      const stub = client.stub<StreamsClient>();
      const seen: number[] = [];
      let closing: Promise<void> | undefined;
      for await (const event of stub.watch({ count: 20, intervalMs: 10 })) {
        seen.push(event.seq);
        if (seen.length === 2) closing = server.close({ graceMs: 10_000 });
      }
      t.equal(seen.length, 20, 'every event arrived although the server began to stop after the second');
      await closing;
      t.equal(probe.finallyRan, 1);
    });

    t.test('set-up refused by one endpoint is re-sent elsewhere without losing request messages', async (t) => {
      const probe = new Probe();
      const server = await startServer(kind, probe);
      t.teardown(() => server.close({ graceMs: 100 }));
      const refusing = await refusingPort(); // refused, and held so no other process can listen there
      t.teardown(() => refusing.close());
      const dead = refusing.port;
      const attempts: { endpoint: string; code: Code; send: number }[] = [];
      const plugin: Plugin = {
        meta: { name: 'attempts', kernel: '*' },
        setupClient: (ctx) => ctx.observe({ attemptEnd: (a: Attempt) => void attempts.push({ endpoint: a.endpoint.id, code: a.code, send: a.send }) }),
      };
      const client = clientOf(kind, [`127.0.0.1:${dead}`, `127.0.0.1:${server.port}`], [plugin]);
      t.teardown(() => client.close());
      const stub = client.stub<StreamsClient>();
      for (let i = 0; i < 4; i++) t.same(await stub.record(events(30)), { count: 30, text: 'abcdefghijklmnopqrstuvwxyzabcd' }, `call ${i + 1}: every request message arrived`);
      t.ok(attempts.some((a) => a.code === Code.UNAVAILABLE && a.endpoint.endsWith(`:${dead}`)), 'some set-up went to the dead endpoint first');
      t.ok(attempts.some((a) => a.send === 2 && a.code === Code.OK), 'and was re-sent transparently');
    });

    t.test('a slow reader pauses the handler: the producer waits on flow control instead of buffering', async (t) => {
      let produced = 0;
      const text = 'x'.repeat(1000);
      const server = new RpcServer({ host: '127.0.0.1', transport: kind.server() }).addService(streams, {
        ...handlers(new Probe()),
        async *watch(request: WatchRequest) {
          for (let seq = 1; seq <= request.count!; seq++) {
            produced++;
            yield { seq, text };
          }
        },
      });
      await server.start();
      t.teardown(() => server.close({ graceMs: 100 }));
      const client = clientOf(kind, [`127.0.0.1:${server.port}`], [], 60_000);
      t.teardown(() => client.close());
      const total = 100_000; // 100 MB if nothing held the producer back
      const iterator = client.stub<StreamsClient>().watch({ count: total })[Symbol.asyncIterator]();
      t.equal((await iterator.next()).value?.seq, 1);
      // Absence of progress can only be observed over time: give the producer ample time to run away.
      await sleep(500);
      const held = produced;
      t.ok(held < 5000, `the producer is paused after ${held} of ${total} messages (windows and buffers only)`);
      let last = 1;
      for (let item = await iterator.next(); item.done !== true; item = await iterator.next()) last = item.value.seq;
      t.equal(last, total, 'and resumes as the reader takes messages, to the last one');
    });

    t.test('a server interceptor that refuses a stream fails its set-up; the client chain sees a rejection', async (t) => {
      const probe = new Probe();
      const refuse: ServerInterceptor = (next) => (call) => {
        if (call.method.name === 'Chat') return Promise.reject(new RpcError(Code.PERMISSION_DENIED, 'no chatting'));
        return next(call);
      };
      const server = await startServer(kind, probe, [{ meta: { name: 'refuse', kernel: '*' }, setupServer: (ctx) => ctx.addInterceptor(refuse, 1000) }]);
      t.teardown(() => server.close({ graceMs: 100 }));
      const outcomes: string[] = [];
      const ends: CallEnd['stream'][] = [];
      const interceptor: Interceptor = (next) => (invocation) => next(invocation).then(
        (result) => {
          outcomes.push('set up');
          return result;
        },
        (error: RpcError) => {
          outcomes.push(`refused ${Code[error.code]}`);
          throw error;
        },
      );
      const plugin: Plugin = {
        meta: { name: 'outcomes', kernel: '*' },
        setupClient: (ctx) => {
          ctx.addInterceptor(interceptor, 1000);
          ctx.observe({ callEnd: (call: CallEnd) => void ends.push(call.stream) });
        },
      };
      const client = clientOf(kind, [`127.0.0.1:${server.port}`], [plugin]);
      t.teardown(() => client.close());
      const error = await (async () => {
        for await (const reply of client.stub<StreamsClient>().chat(events(3))) void reply;
      })().catch((e: RpcError) => e);
      t.match(error, { code: Code.PERMISSION_DENIED, message: 'no chatting' });
      t.same(outcomes, ['refused PERMISSION_DENIED'], 'next() rejected: the stream never set up');
      t.match(ends, [{ setUp: false }], 'callEnd says it never set up');
      t.equal(probe.finallyRan, 0, 'the handler never ran');
    });

    t.test('a transport without openStream fails stream calls UNIMPLEMENTED, never ran', async (t) => {
      const probe = new Probe();
      const server = await startServer(kind, probe);
      t.teardown(() => server.close({ graceMs: 100 }));
      const inner = kind.client();
      const unaryOnly: ClientTransport = {
        call: (endpoint, request) => inner.call(endpoint, request),
        ping: (endpoint, timeoutMs) => inner.ping(endpoint, timeoutMs),
        state: (endpoint) => inner.state(endpoint),
        onStateChange: (listener) => inner.onStateChange(listener),
        retain: (endpoints) => inner.retain(endpoints),
        close: () => inner.close(),
      };
      const client = new RpcClient({ service: streams, addresses: [`127.0.0.1:${server.port}`], transport: unaryOnly });
      t.teardown(async () => {
        await client.close();
        await inner.close();
      });
      const stub = client.stub<StreamsClient>();
      const error = await stub.record(events(2)).catch((e: RpcError) => e);
      t.match(error, { code: Code.UNIMPLEMENTED, mayHaveRun: false, message: /carries unary calls only/ });
      t.same(await stub.ping({ seq: 1, text: 'u' }), { seq: 1, text: 'u' }, 'unary calls still go through');
    });
  });
}
