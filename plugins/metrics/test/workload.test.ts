import { Code, RpcClient, RpcError } from '@trellis/core';
import { loadEchoService } from '@trellis/testkit';
import t from 'tap';
import { metrics } from '../src/index.js';
import { ECHO, echoServer } from './fixtures/echo.js';
import { scrape } from './fixtures/prom-text.js';

t.test('a known workload shows exactly in the scraped counters, client and server side', async (t) => {
  // Both providers share one plugin instance (one registry): their server series add up.
  const serverMetrics = metrics({ port: 0, host: '127.0.0.1' });
  const a = await echoServer(t, 'a', [serverMetrics]);
  const b = await echoServer(t, 'b', [serverMetrics]);
  const clientMetrics = metrics({ port: 0, host: '127.0.0.1' });
  const endpointA = `127.0.0.1:${a.port}`;
  const endpointB = `127.0.0.1:${b.port}`;
  const client = new RpcClient({ service: loadEchoService(), addresses: [endpointA, endpointB], plugins: [clientMetrics] });
  t.teardown(() => client.close());

  // Sequential, round robin from the first address: calls 1, 3, 5… go to a, calls 2, 4, 6… to b.
  for (let i = 0; i < 37; i++) await client.invoke('Echo', { message: `ok ${i}` });
  for (let i = 0; i < 5; i++) {
    const error = (await client.invoke('Echo', { failCode: Code.NOT_FOUND }).catch((e: unknown) => e)) as RpcError;
    t.equal(error.code, Code.NOT_FOUND);
  }
  for (let i = 0; i < 3; i++) await client.invoke('Mutate', { message: 'm' });

  t.match(clientMetrics.url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  const c = await scrape(clientMetrics.url!);
  t.equal(c.contentType, 'text/plain; version=0.0.4; charset=utf-8');
  t.equal(c.types.get('trellis_client_requests_total'), 'counter');
  t.equal(c.types.get('trellis_client_duration_seconds'), 'histogram');
  t.equal(c.types.get('trellis_client_endpoint_inflight'), 'gauge');

  const echo = { service: ECHO, method: 'Echo' };
  t.equal(c.value('trellis_client_requests_total', { ...echo, code: 'OK' }), 37);
  t.equal(c.value('trellis_client_requests_total', { ...echo, code: 'NOT_FOUND' }), 5);
  t.equal(c.value('trellis_client_requests_total', { service: ECHO, method: 'Mutate', code: 'OK' }), 3);
  t.equal(c.all('trellis_client_requests_total').length, 3, 'no other series');
  t.equal(c.value('trellis_client_duration_seconds_count', echo), 42);
  t.equal(c.value('trellis_client_duration_seconds_bucket', { ...echo, le: '+Inf' }), 42);
  t.equal(c.value('trellis_client_duration_seconds_count', { service: ECHO, method: 'Mutate' }), 3);
  const buckets = c.all('trellis_client_duration_seconds_bucket', echo).map((s) => s.value);
  t.same(buckets, [...buckets].sort((x, y) => x - y), 'buckets are cumulative');
  t.ok(c.value('trellis_client_duration_seconds_sum', echo) > 0);

  // 45 calls alternate: a gets 1, 3, … 45 (23 calls), b gets 22.
  const attempts = (endpoint: string, method: string, code: string) => c.value('trellis_client_attempts_total', { service: ECHO, method, endpoint, code });
  t.equal(attempts(endpointA, 'Echo', 'OK'), 19);
  t.equal(attempts(endpointB, 'Echo', 'OK'), 18);
  t.equal(attempts(endpointA, 'Echo', 'NOT_FOUND'), 2, 'calls 39 and 41');
  t.equal(attempts(endpointB, 'Echo', 'NOT_FOUND'), 3, 'calls 38, 40 and 42');
  t.equal(attempts(endpointA, 'Mutate', 'OK'), 2, 'calls 43 and 45');
  t.equal(attempts(endpointB, 'Mutate', 'OK'), 1, 'call 44');
  t.equal(c.value('trellis_client_attempt_duration_seconds_count', { service: ECHO, endpoint: endpointA }), 23);
  t.equal(c.value('trellis_client_attempt_duration_seconds_count', { service: ECHO, endpoint: endpointB }), 22);
  t.equal(c.value('trellis_client_endpoint_inflight', { service: ECHO, endpoint: endpointA }), 0);
  t.equal(c.value('trellis_client_endpoint_inflight', { service: ECHO, endpoint: endpointB }), 0);
  for (const endpoint of [endpointA, endpointB]) {
    t.same(
      c.all('trellis_endpoint_health_state', { service: ECHO, endpoint }).map((s) => [s.labels.state, s.value]),
      [['healthy', 1], ['subhealthy', 0], ['dead', 0]],
      `${endpoint} is healthy`,
    );
  }
  t.same(c.all('trellis_server_requests_total'), [], 'the client’s registry has no server series');

  const s = await scrape(serverMetrics.url!);
  t.equal(s.value('trellis_server_requests_total', { ...echo, code: 'OK' }), 37);
  t.equal(s.value('trellis_server_requests_total', { ...echo, code: 'NOT_FOUND' }), 5);
  t.equal(s.value('trellis_server_requests_total', { service: ECHO, method: 'Mutate', code: 'OK' }), 3);
  t.equal(s.value('trellis_server_duration_seconds_count', echo), 42);
  t.equal(s.value('trellis_server_inflight', echo), 0);
  t.same(s.all('trellis_client_requests_total'), [], 'the servers’ registry has no client series');
  t.equal(await clientMetrics.text(), await clientMetrics.registry.metrics(), 'text() is the registry’s exposition');
});
