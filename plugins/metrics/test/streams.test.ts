import { Code, RpcClient, RpcError, RpcServer } from '@trellis/core';
import { createTickHandlers, loadTickService, TickProbe, waitFor, type Tick } from '@trellis/testkit';
import t from 'tap';
import { metrics } from '../src/index.js';
import { scrape } from './fixtures/prom-text.js';

/**
 * Streams (issue #18) over the native transport on loopback: the client counts
 * streams from the kernel's set-up attempt and its `callEnd` stream stats, the server from its
 * interceptor around the whole handler.
 */
const TICKS = 'trellis.test.TickService';

async function* ticks(n: number): AsyncGenerator<Tick> {
  for (let seq = 1; seq <= n; seq++) yield { seq };
}

t.test('streams started, finished by code, messages and duration on both sides', async (t) => {
  const serverMetrics = metrics({ port: 0, host: '127.0.0.1' });
  const probe = new TickProbe();
  const server = new RpcServer({ host: '127.0.0.1', plugins: [serverMetrics] })
    .addService(loadTickService(), createTickHandlers('a', probe));
  await server.start();
  t.teardown(() => server.close({ graceMs: 1000 }));
  const clientMetrics = metrics({ port: 0, host: '127.0.0.1' });
  const client = new RpcClient({ service: loadTickService(), addresses: [`127.0.0.1:${server.port}`], plugins: [clientMetrics] });
  t.teardown(() => client.close());

  // Two server streams of 5, one that fails after 2, one the caller leaves after 3 of an endless stream.
  for (let i = 0; i < 2; i++) {
    let n = 0;
    for await (const tick of client.stream('Ticks', { count: 5 })) if (tick) n++;
    t.equal(n, 5);
  }
  const failed = await (async () => {
    for await (const tick of client.stream('Ticks', { count: 2, failCode: Code.RESOURCE_EXHAUSTED })) void tick;
  })().catch((e: unknown) => e);
  t.equal((failed as RpcError).code, Code.RESOURCE_EXHAUSTED);
  let taken = 0;
  for await (const tick of client.stream('Ticks', { count: 0, intervalMs: 5 })) if (tick && ++taken === 3) break;
  // A client stream of 7 and a bidi stream of 4 messages each way.
  t.same(await client.invoke('Collect', ticks(7)), { count: 7 });
  let relayed = 0;
  for await (const tick of client.stream('Relay', ticks(4))) if (tick) relayed++;
  t.equal(relayed, 4);
  await waitFor(() => probe.closed === 6, { timeoutMs: 10_000, what: 'every handler ended' });

  const c = await scrape(clientMetrics.url!);
  const ticksLabels = { service: TICKS, method: 'Ticks' };
  t.equal(c.types.get('trellis_client_streams_started_total'), 'counter');
  t.equal(c.types.get('trellis_client_stream_duration_seconds'), 'histogram');
  t.equal(c.value('trellis_client_streams_started_total', ticksLabels), 4);
  t.equal(c.value('trellis_client_streams_finished_total', { ...ticksLabels, code: 'OK' }), 2);
  t.equal(c.value('trellis_client_streams_finished_total', { ...ticksLabels, code: 'RESOURCE_EXHAUSTED' }), 1);
  t.equal(c.value('trellis_client_streams_finished_total', { ...ticksLabels, code: 'CANCELLED' }), 1, 'leaving the loop ends the stream CANCELLED');
  t.equal(c.value('trellis_client_stream_messages_received_total', ticksLabels), 5 + 5 + 2 + 3);
  t.equal(c.value('trellis_client_stream_messages_sent_total', ticksLabels), 4, 'one request message per server stream');
  t.equal(c.value('trellis_client_stream_duration_seconds_count', ticksLabels), 4);
  t.equal(c.value('trellis_client_stream_messages_sent_total', { service: TICKS, method: 'Collect' }), 7);
  t.equal(c.value('trellis_client_stream_messages_received_total', { service: TICKS, method: 'Collect' }), 1);
  t.equal(c.value('trellis_client_stream_messages_sent_total', { service: TICKS, method: 'Relay' }), 4);
  t.equal(c.value('trellis_client_stream_messages_received_total', { service: TICKS, method: 'Relay' }), 4);
  t.equal(c.all('trellis_client_requests_total').length, 0, 'streams stay out of the call families');

  const s = await scrape(serverMetrics.url!);
  t.equal(s.value('trellis_server_streams_started_total', ticksLabels), 4);
  t.equal(s.value('trellis_server_streams_finished_total', { ...ticksLabels, code: 'OK' }), 2);
  t.equal(s.value('trellis_server_streams_finished_total', { ...ticksLabels, code: 'RESOURCE_EXHAUSTED' }), 1);
  t.equal(s.value('trellis_server_streams_finished_total', { ...ticksLabels, code: 'CANCELLED' }), 1, 'the client left: the handler was stopped');
  t.equal(s.value('trellis_server_stream_duration_seconds_count', ticksLabels), 4);
  t.equal(s.value('trellis_server_streams_finished_total', { service: TICKS, method: 'Collect', code: 'OK' }), 1);
  t.equal(s.value('trellis_server_streams_finished_total', { service: TICKS, method: 'Relay', code: 'OK' }), 1);
  t.equal(s.value('trellis_server_stream_messages_received_total', ticksLabels), 4, 'one request message per server stream');
  // The endless stream sent at least the 3 the client took before it left (more may have been in flight).
  t.ok(s.value('trellis_server_stream_messages_sent_total', ticksLabels)! >= 5 + 5 + 2 + 3);
  t.equal(s.value('trellis_server_stream_messages_received_total', { service: TICKS, method: 'Collect' }), 7);
  t.equal(s.value('trellis_server_stream_messages_sent_total', { service: TICKS, method: 'Collect' }), 1);
  t.equal(s.value('trellis_server_stream_messages_received_total', { service: TICKS, method: 'Relay' }), 4);
  t.equal(s.value('trellis_server_stream_messages_sent_total', { service: TICKS, method: 'Relay' }), 4);
  t.equal(s.value('trellis_server_inflight', ticksLabels), 0, 'no stream left open');
  t.equal(s.all('trellis_server_requests_total').length, 0);
});
