import { RpcClient, RpcServer } from '@trellis/core';
import { createTickHandlers, loadTickService, TickProbe, waitFor } from '@trellis/testkit';
import t from 'tap';
import { health, type HeartbeatEvent } from '../src/index.js';

/**
 * Streams (issue #18) over the native transport on loopback. A stream's attempt ends
 * at its set-up, so availability records one served set-up, never an answer that is "still out";
 * heartbeats go beside open streams on the same connection.
 */
t.test('streams held open for many heartbeat timeouts leave the endpoint healthy', async (t) => {
  const probe = new TickProbe();
  const server = new RpcServer({ host: '127.0.0.1' })
    .addService(loadTickService(), createTickHandlers('a', probe));
  await server.start();
  t.teardown(() => server.close({ graceMs: 1000 }));
  const address = `127.0.0.1:${server.port}`;
  // Frequent heartbeats: 15 of them pass while the streams stay open. A PING stuck behind a stream
  // (the stalled one holds its flow-control window) would never get its PONG, whatever the timeout;
  // the 2 s timeout only keeps a loaded machine from failing a beat whose PONG was merely late (at
  // 200 ms, then 500 ms, an in-process PONG delayed by a loaded machine failed a beat).
  const watch = health({ intervalMs: 100, timeoutMs: 2000, failureThreshold: 2, warmupMs: 0, availability: { minCalls: 1, threshold: 0.8 } });
  const beats: HeartbeatEvent[] = [];
  watch.healthEvents.on('heartbeat', (beat: HeartbeatEvent) => beats.push(beat));
  const changes: string[] = [];
  watch.healthEvents.on('change', (change: { to: string }) => changes.push(change.to));
  const client = new RpcClient({ service: loadTickService(), addresses: [address], plugins: [watch], timeoutMs: 60_000 });
  t.teardown(() => client.close());
  await client.start();

  // One stream that flows slowly and one the caller stopped reading (the server is paused on
  // flow control): neither has answered "finally", and neither may look like a stalled call.
  const flowing = client.stream('Ticks', { count: 0, intervalMs: 20 });
  const flowingIterator = flowing[Symbol.asyncIterator]();
  await flowingIterator.next();
  const stalled = client.stream('Ticks', { count: 0 });
  await stalled[Symbol.asyncIterator]().next();
  let read = 1;
  const reading = (async () => {
    for (;;) {
      const step = await flowingIterator.next().catch(() => ({ done: true as const }));
      if (step.done === true) return;
      read++;
    }
  })();

  const before = beats.length;
  await waitFor(() => beats.length >= before + 15, { timeoutMs: 60_000, what: 'fifteen heartbeats while the streams are open' });
  const during = beats.slice(before);
  t.same(during.filter((b) => !b.ok).map((b) => b.error), [], 'every heartbeat beside the open streams got its PONG');
  t.ok(read > 1, 'the flowing stream kept flowing');
  const [state] = watch.states();
  t.equal(state?.state, 'healthy');
  t.match(state?.availability, { calls: 2, successes: 2 }, 'each stream counts once, as a served set-up');
  t.same(changes, [], 'no state change');

  flowing.cancel();
  stalled.cancel();
  await reading;
  await waitFor(() => probe.closed === 2, { timeoutMs: 10_000, what: 'both handlers ended' });
  t.equal(watch.states()[0]?.state, 'healthy', 'cancelling streams is the caller’s choice, not a failure');
  t.match(watch.states()[0]?.availability, { calls: 2, successes: 2 });
});
