import { RpcClient } from '@trellis/core';
import { Registry } from 'prom-client';
import { loadEchoService } from '@trellis/testkit';
import t from 'tap';
import { metrics, type MetricSource, type SourceStateChange } from '../src/index.js';
import { echoServer } from './fixtures/echo.js';
import { parseExposition, scrape } from './fixtures/prom-text.js';

/** A breaker-shaped state holder, written against the documented MetricSource interface only. */
function breakerStates() {
  const states = new Map<string, string>();
  const listeners = new Set<(change: SourceStateChange) => void>();
  const source: MetricSource & { set(endpoint: string, state: string): void; listeners: number } = {
    name: 'breaker',
    labelNames: ['service', 'endpoint'],
    stateNames: ['closed', 'open', 'half-open'],
    *states() {
      for (const [endpoint, state] of states) yield { labels: { service: 'svc', endpoint }, state };
    },
    onStateChange(listener) {
      listeners.add(listener);
      return { dispose: () => listeners.delete(listener) };
    },
    set(endpoint, state) {
      const from = states.get(endpoint) ?? 'closed';
      states.set(endpoint, state);
      for (const l of listeners) l({ labels: { service: 'svc', endpoint }, from, to: state });
    },
    get listeners() {
      return listeners.size;
    },
  };
  return source;
}

t.test('a state source is exported as a 1/0 gauge per state plus a transitions counter', async (t) => {
  const breaker = breakerStates();
  const limiter: MetricSource = {
    name: 'limiter', help: 'Rate limiter state per method.', labelNames: ['method'], stateNames: ['ok', 'limiting'],
    states: () => [{ labels: { method: 'Echo' }, state: 'limiting' }, { labels: { method: 'Mutate' }, state: 'draining' }],
  };
  const plugin = metrics({ sources: [breaker, limiter] });
  breaker.set('10.0.0.1:5000', 'closed');
  breaker.set('10.0.0.2:5000', 'open');
  breaker.set('10.0.0.2:5000', 'half-open');
  let m = parseExposition(await plugin.text());
  t.equal(m.types.get('trellis_breaker_state'), 'gauge');
  const states = (endpoint: string) => m.all('trellis_breaker_state', { endpoint }).map((s) => [s.labels.state, s.value]);
  t.same(states('10.0.0.1:5000'), [['closed', 1], ['open', 0], ['half-open', 0]]);
  t.same(states('10.0.0.2:5000'), [['closed', 0], ['open', 0], ['half-open', 1]]);
  t.equal(m.value('trellis_breaker_transitions_total', { service: 'svc', endpoint: '10.0.0.2:5000', from: 'closed', to: 'open' }), 1);
  t.equal(m.value('trellis_breaker_transitions_total', { service: 'svc', endpoint: '10.0.0.2:5000', from: 'open', to: 'half-open' }), 1);
  t.equal(m.value('trellis_breaker_transitions_total', { endpoint: '10.0.0.1:5000', from: 'closed', to: 'closed' }), 1);
  t.same(m.all('trellis_limiter_state').map((s) => [s.labels.method, s.labels.state, s.value]), [
    ['Echo', 'ok', 0], ['Echo', 'limiting', 1],
    ['Mutate', 'ok', 0], ['Mutate', 'limiting', 0], ['Mutate', 'draining', 1],
  ], 'an undeclared state still shows');
  t.match(await plugin.text(), /# HELP trellis_limiter_state Rate limiter state per method\./);
  t.same(m.all('trellis_limiter_transitions_total'), [], 'no transitions family without onStateChange');

  breaker.set('10.0.0.2:5000', 'closed');
  m = parseExposition(await plugin.text());
  t.same(states('10.0.0.2:5000'), [['closed', 1], ['open', 0], ['half-open', 0]], 'read afresh at every scrape');

  t.equal(breaker.listeners, 1);
  await plugin.close();
  t.equal(breaker.listeners, 0, 'close() unsubscribes');
  t.notMatch(await plugin.text(), /trellis_breaker_state/, 'and removes the families');
});

t.test('numeric values: one gauge per value name, read once per scrape', async (t) => {
  let reads = 0;
  const limiter: MetricSource = {
    name: 'limiter', labelNames: ['scope'], valueNames: ['inflight', 'max_concurrency', 'tokens'],
    values: () => {
      reads++;
      return [
        { labels: { scope: 'svc/Echo' }, values: { inflight: 3, max_concurrency: 40, tokens: undefined } },
        { labels: { scope: 'svc' }, values: { inflight: 0, max_concurrency: undefined, tokens: 12.5 } },
      ];
    },
  };
  const plugin = metrics({ sources: [limiter] });
  const m = parseExposition(await plugin.text());
  t.equal(reads, 1, 'three gauges, one read');
  t.equal(m.types.get('trellis_limiter_inflight'), 'gauge');
  t.same(m.all('trellis_limiter_inflight').map((s) => [s.labels.scope, s.value]), [['svc/Echo', 3], ['svc', 0]]);
  t.same(m.all('trellis_limiter_max_concurrency').map((s) => [s.labels.scope, s.value]), [['svc/Echo', 40]], 'undefined values are left out');
  t.same(m.all('trellis_limiter_tokens').map((s) => [s.labels.scope, s.value]), [['svc', 12.5]]);
  await plugin.text();
  t.equal(reads, 2, 'read afresh by the next scrape');
});

t.test('a source that throws is left out of that scrape and counted; the scrape still succeeds', async (t) => {
  let broken = true;
  const flaky: MetricSource = {
    name: 'flaky', labelNames: [], stateNames: ['up', 'down'],
    states: () => {
      if (broken) throw new Error('boom');
      return [{ labels: {}, state: 'up' }];
    },
  };
  const server = await echoServer(t, 'a');
  const plugin = metrics({ port: 0, host: '127.0.0.1', sources: [flaky] });
  const client = new RpcClient({ service: loadEchoService(), addresses: [`127.0.0.1:${server.port}`], plugins: [plugin] });
  t.teardown(() => client.close());
  await client.start();
  let m = await scrape(plugin.url!);
  t.same(m.all('trellis_flaky_state'), []);
  t.equal(m.value('trellis_metrics_source_errors_total', { source: 'flaky' }), 1);
  broken = false;
  m = await scrape(plugin.url!);
  t.same(m.all('trellis_flaky_state').map((s) => [s.labels.state, s.value]), [['up', 1], ['down', 0]]);
  t.equal(m.value('trellis_metrics_source_errors_total', { source: 'flaky' }), 1);
});

t.test('plugins sharing a registry export a shared source once', async (t) => {
  const registry = new Registry();
  const breaker = breakerStates();
  const one = metrics({ registry, sources: [breaker] });
  const two = metrics({ registry, sources: [breaker] });
  breaker.set('e', 'open');
  t.equal(parseExposition(await registry.metrics()).value('trellis_breaker_transitions_total', { from: 'closed', to: 'open' }), 1, 'counted once, not per plugin');
  await one.close();
  t.equal(breaker.listeners, 1, 'still exported for the other plugin');
  t.match(await registry.metrics(), /trellis_breaker_state/);
  await two.close();
  t.equal(breaker.listeners, 0);
  const other: MetricSource = { name: 'breaker', labelNames: [], stateNames: ['x'], states: () => [] };
  metrics({ registry, sources: [breakerStates()] });
  t.throws(() => metrics({ registry, sources: [other] }), { code: 'ERR_INVALID_OPTION', message: /"sources" is "breaker"; expected a name no other source on this registry uses/ });
});
