import { MemoryRegistry, RpcClient, RpcServer, serviceKey } from '@trellis/core';
import { createEchoHandlers, loadEchoService, refusingPort, waitFor, type EchoRequest } from '@trellis/testkit';
import t from 'tap';
import { metrics } from '../src/index.js';
import { ECHO, echoServer, inOrder } from './fixtures/echo.js';
import { parseExposition, scrape } from './fixtures/prom-text.js';

t.test('in-flight gauges count calls held in the handler, client per endpoint and server per method', async (t) => {
  // A provider whose Echo waits for the test to let it go: no timing involved.
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let entered = 0;
  let allEntered!: () => void;
  const threeIn = new Promise<void>((resolve) => (allEntered = resolve));
  const handlers = createEchoHandlers({ servedBy: 'held' });
  const serverMetrics = metrics();
  const server = new RpcServer({ host: '127.0.0.1', plugins: [serverMetrics] });
  server.addService(loadEchoService(), {
    echo: async (request: EchoRequest, call: never) => {
      if (++entered === 3) allEntered();
      await gate;
      return handlers.echo(request, call);
    },
    mutate: handlers.mutate,
  });
  await server.start();
  t.teardown(() => server.close({ graceMs: 1000 }));
  const clientMetrics = metrics();
  const endpoint = `127.0.0.1:${server.port}`;
  const client = new RpcClient({ service: loadEchoService(), addresses: [endpoint], plugins: [clientMetrics] });
  t.teardown(() => client.close());

  const calls = [1, 2, 3].map(() => client.invoke('Echo', {}));
  await threeIn;
  let c = parseExposition(await clientMetrics.text());
  let s = parseExposition(await serverMetrics.text());
  t.equal(c.value('trellis_client_endpoint_inflight', { service: ECHO, endpoint }), 3);
  t.equal(s.value('trellis_server_inflight', { service: ECHO, method: 'Echo' }), 3);
  t.same(c.all('trellis_client_requests_total'), [], 'nothing completed yet');

  release();
  await Promise.all(calls);
  c = parseExposition(await clientMetrics.text());
  s = parseExposition(await serverMetrics.text());
  t.equal(c.value('trellis_client_endpoint_inflight', { service: ECHO, endpoint }), 0);
  t.equal(s.value('trellis_server_inflight', { service: ECHO, method: 'Echo' }), 0);
  t.equal(c.value('trellis_client_requests_total', { service: ECHO, method: 'Echo', code: 'OK' }), 3);
});

t.test('endpoint health: state per endpoint from the client’s health view, and its transitions', async (t) => {
  const live = await echoServer(t, 'live');
  const refusing = await refusingPort(); // refused, and held so no other process can listen there
  t.teardown(() => refusing.close());
  const dead = refusing.address;
  const liveId = `127.0.0.1:${live.port}`;
  const plugin = metrics({ port: 0, host: '127.0.0.1' });
  const client = new RpcClient({ service: loadEchoService(), addresses: [dead, liveId], loadBalancer: inOrder, plugins: [plugin] });
  t.teardown(() => client.close());

  const deadSeen = new Promise<void>((resolve) => client.healthView.onChange((change) => change.to === 'dead' && resolve()));
  // The first attempt goes to the dead address, is refused, and is re-sent to the live one.
  t.equal(((await client.invoke('Echo', {})) as { servedBy: string }).servedBy, 'live');
  await deadSeen;
  const states = async (endpoint: string) => (await scrape(plugin.url!)).all('trellis_endpoint_health_state', { service: ECHO, endpoint }).map((x) => [x.labels.state, x.value]);
  const m = await scrape(plugin.url!);
  t.same(await states(dead), [['healthy', 0], ['subhealthy', 0], ['dead', 1]]);
  t.same(await states(liveId), [['healthy', 1], ['subhealthy', 0], ['dead', 0]]);
  t.equal(m.value('trellis_endpoint_health_transitions_total', { service: ECHO, endpoint: dead, from: 'healthy', to: 'dead' }), 1);
  t.equal(m.all('trellis_endpoint_health_transitions_total').length, 1, 'the live endpoint never changed');
  t.equal(m.value('trellis_client_attempts_total', { endpoint: dead, code: 'UNAVAILABLE' }), 1, 'the refused attempt is counted on its endpoint');
  t.equal(m.value('trellis_client_attempts_total', { endpoint: liveId, code: 'OK' }), 1);
  t.equal(m.value('trellis_client_requests_total', { code: 'OK' }), 1, 'one call, counted once');
  t.same(m.all('trellis_client_requests_total', { code: 'UNAVAILABLE' }), []);
});

t.test('an endpoint that leaves the provider list leaves the gauges', async (t) => {
  const a = await echoServer(t, 'a');
  const b = await echoServer(t, 'b');
  const registry = new MemoryRegistry();
  const key = serviceKey(ECHO);
  const info = (port: number) => ({ host: '127.0.0.1', port, weight: 100, version: '1.0.0', tags: {}, protocol: 'trellis', startedAt: 0 });
  await registry.register(key, info(a.port));
  await registry.register(key, info(b.port));
  const plugin = metrics();
  const client = new RpcClient({ service: loadEchoService(), registry, plugins: [plugin] });
  t.teardown(() => client.close());
  await client.invoke('Echo', {});
  await client.invoke('Echo', {});
  let m = parseExposition(await plugin.text());
  t.equal(m.all('trellis_client_endpoint_inflight').length, 2);
  t.equal(m.all('trellis_endpoint_health_state').length, 6);
  await registry.deregister(key, info(b.port));
  await waitFor(() => client.endpoints.length === 1, { what: 'the client saw b leave' });
  m = parseExposition(await plugin.text());
  t.same(m.all('trellis_client_endpoint_inflight').map((s) => s.labels.endpoint), [`127.0.0.1:${a.port}`]);
  t.same([...new Set(m.all('trellis_endpoint_health_state').map((s) => s.labels.endpoint))], [`127.0.0.1:${a.port}`]);
  t.equal(m.value('trellis_client_attempts_total', { endpoint: `127.0.0.1:${b.port}`, code: 'OK' }), 1, 'counters keep their history');
});
