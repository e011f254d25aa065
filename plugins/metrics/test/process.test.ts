/**
 * The deployment form: a provider process enables the endpoint with one option, and its metrics are
 * scraped over HTTP from outside. The plugin is loaded by module name from this package's dist
 * (build it first; `npm test` runs after the build in CI).
 */
import { Code, RpcClient } from '@trellis/core';
import { freePort, loadEchoService, onFreePorts, startProvider } from '@trellis/testkit';
import * as path from 'node:path';
import t from 'tap';
import { ECHO } from './fixtures/echo.js';
import { scrape } from './fixtures/prom-text.js';

t.test('a provider process started with metrics({ port }) serves exact counts to a scraper', async (t) => {
  // The deployment's fixed `port` option, so the child must be told a port before it starts: one
  // taken by another process before the child binds it fails the start with EADDRINUSE, and the
  // start is made again on a fresh port (any other start failure still fails the test).
  let port = 0;
  const provider = await onFreePorts(async () => {
    port = await freePort();
    return startProvider({
      name: 'p1',
      plugins: [{ module: '@trellis/metrics', export: 'metrics', options: { port, host: '127.0.0.1' }, from: path.join(__dirname, '..') }],
    });
  });
  t.teardown(() => provider.kill('SIGKILL'));
  const client = new RpcClient({ service: loadEchoService(), addresses: [provider.address] });
  t.teardown(() => client.close());

  await Promise.all(Array.from({ length: 37 }, (_, i) => client.invoke('Echo', { message: `${i}` })));
  await Promise.all(Array.from({ length: 5 }, () => client.invoke('Echo', { failCode: Code.NOT_FOUND }).catch(() => undefined)));
  const url = `http://127.0.0.1:${port}/metrics`;
  const m = await scrape(url);
  t.equal(m.value('trellis_server_requests_total', { service: ECHO, method: 'Echo', code: 'OK' }), 37);
  t.equal(m.value('trellis_server_requests_total', { service: ECHO, method: 'Echo', code: 'NOT_FOUND' }), 5);
  t.equal(m.value('trellis_server_duration_seconds_count', { service: ECHO, method: 'Echo' }), 42);
  t.equal(m.value('trellis_server_inflight', { service: ECHO, method: 'Echo' }), 0);
  t.equal((await provider.stats()).calls, 42, 'the provider’s own count agrees');

  await provider.stop();
  await t.rejects(fetch(url), 'the endpoint closes with the server');
});
