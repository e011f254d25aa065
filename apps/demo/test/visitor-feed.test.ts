import { RpcClient, RpcServer, type ServerInvocation } from '@trellis/core';
import { GrpcClientTransport, GrpcServerTransport } from '@trellis/transport-grpc';
import { waitFor } from '@trellis/testkit';
import t from 'tap';
import { loadGreeter, type GreeterClient } from '../src/greeter.js';
import { describeFeed, followVisitors, visitorEvents, type VisitorsRequest } from '../src/visitor-feed.js';

/**
 * The demo's visitor feed (a server stream, issue #18) over the gRPC transport on loopback — the
 * demo itself runs on the native TCP transport, whose streams arrive with its stream frames: one
 * provider stops gracefully mid-feed, the subscriber moves to the other and says what it missed.
 */
async function provider(t: { teardown(fn: () => unknown): void }, name: string) {
  const stopping = new AbortController();
  const reply = async () => ({ message: '', servedBy: name });
  const server = new RpcServer({ host: '127.0.0.1', transport: new GrpcServerTransport() }).addService(loadGreeter(), {
    sayHello: reply,
    count: async () => ({ letters: 0, words: 0, servedBy: name }),
    remember: reply,
    visitors: (request: VisitorsRequest, call: ServerInvocation) => visitorEvents(request, call, name, () => 7, stopping.signal),
  });
  await server.start();
  let closed = false;
  const stop = async () => {
    if (closed) return;
    closed = true;
    stopping.abort();
    await server.close({ graceMs: 5000 });
  };
  t.teardown(stop);
  return { name, address: `127.0.0.1:${server.port}`, stop };
}

t.test('the feed keeps flowing across the graceful stop of its provider', async (t) => {
  const a = await provider(t, 'a');
  const b = await provider(t, 'b');
  const client = new RpcClient({ service: loadGreeter(), addresses: [a.address, b.address], transport: new GrpcClientTransport() });
  t.teardown(() => client.close());
  const greeter = client.stub<GreeterClient>();
  const lines: string[] = [];
  const received: string[] = [];
  const stop = new AbortController();
  // Round robin from the first address: the first subscription goes to a.
  const feed = followVisitors({
    subscribe: (request, signal) => greeter.visitors(request, { signal, timeoutMs: 60_000 }),
    signal: stop.signal,
    log: (line) => lines.push(line),
    onEvent: (event) => received.push(event.servedBy),
  });
  await waitFor(() => received.length >= 5, { timeoutMs: 10_000, what: 'five events from the first provider' });
  t.same([...new Set(received)], ['a'], 'the feed started on a');
  await a.stop();
  const fromA = received.length;
  await waitFor(() => received.length >= fromA + 5, { timeoutMs: 10_000, what: 'five events after a stopped' });
  stop.abort();
  const report = await feed;
  t.same(report.servedBy, ['a', 'b'], 'it moved from a to b');
  t.equal(report.resubscriptions, 1, 'one re-subscription');
  t.equal(report.missed, 0, 'b resumed after the last tick a sent: none missed');
  t.equal(report.events, received.length, 'every tick counted once');
  t.equal(report.unsupported, undefined);
  t.match(lines.join('\n'), /visitor feed from a ended \(UNAVAILABLE: a is stopping; subscribe again\)/);
  t.match(lines.join('\n'), /visitor feed now from b: resumed at tick \d+, 0 missed/);
  t.match(describeFeed(report), /^visitor feed \(server stream\): \d+ events from a → b, 1 re-subscription\(s\), none missed$/);
});

