import { RpcClient, RpcServer } from '@trellis/core';
import { checkPlugin } from '@trellis/core/spi';
import { createEchoHandlers, loadEchoService } from '@trellis/testkit';
import { createServer } from 'node:net';
import { Counter, Registry } from 'prom-client';
import t from 'tap';
import { metrics, serveMetrics } from '../src/index.js';
import { echoServer } from './fixtures/echo.js';
import { parseExposition } from './fixtures/prom-text.js';

t.test('meta passes the kernel’s plugin check on both sides', (t) => {
  const plugin = metrics();
  t.same(plugin.meta, { name: '@trellis/metrics', kernel: '^0.1.0' });
  t.doesNotThrow(() => checkPlugin(plugin, 'client', new Set()));
  t.doesNotThrow(() => checkPlugin(plugin, 'server', new Set()));
  t.end();
});

t.test('bad options fail at metrics() with ERR_INVALID_OPTION naming the option', (t) => {
  const source = { name: 'breaker', labelNames: ['endpoint'], stateNames: ['open'], states: () => [] };
  const cases: [unknown, RegExp][] = [
    [{ port: 70000 }, /metrics option "port" is 70000; expected an integer in 0\.\.65535/],
    [{ port: '9464' }, /"port" is "9464"/],
    [{ host: '' }, /"host" is ""; expected an interface address/],
    [{ path: 'metrics' }, /"path" is "metrics"; expected a URL path starting with "\/"/],
    [{ registry: {} }, /"registry" is \{\}; expected a prom-client Registry/],
    [{ prefix: '9x_' }, /"prefix" is "9x_"/],
    [{ buckets: [] }, /"buckets" is \[\]; expected a non-empty array of ascending positive numbers/],
    [{ buckets: [0.1, 0.05] }, /"buckets" is \[0\.1,0\.05\]/],
    [{ sources: {} }, /"sources" is \{\}; expected an array of MetricSource objects/],
    [{ sources: [{ ...source, name: 'bad-name' }] }, /"sources\[0\]\.name" is "bad-name"/],
    [{ sources: [{ ...source, labelNames: ['state'] }] }, /"sources\[0\]\.labelNames" is \["state"\]; .*state, from and to are taken/],
    [{ sources: [{ ...source, stateNames: [] }] }, /"sources\[0\]\.stateNames" is \[\]/],
    [{ sources: [{ ...source, states: undefined }] }, /"sources\[0\]\.states" is undefined/],
    [{ sources: [{ name: 'x', labelNames: [] }] }, /"sources\[0\]" is \{"name":"x","labelNames":\[\]\}; expected states\(\) with stateNames, values\(\) with valueNames, or both/],
    [{ sources: [{ name: 'x', labelNames: [], valueNames: ['a', 'a'], values: () => [] }] }, /"sources\[0\]\.valueNames" is \["a","a"\]; expected a non-empty array of distinct gauge names/],
    [{ sources: [{ name: 'x', labelNames: [], valueNames: ['a'] }] }, /"sources\[0\]\.values" is undefined/],
    [{ sources: [{ name: 'x', labelNames: [], valueNames: ['a'], values: () => [], onStateChange: () => () => {} }] }, /"sources\[0\]\.onStateChange" is a function; expected a function\(listener\) returning a disposer, on a source with states\(\)/],
    [{ sources: [{ ...source, onStateChange: 1 }] }, /"sources\[0\]\.onStateChange" is 1/],
    [{ sources: [source, { ...source }] }, /"sources" is \["breaker","breaker"\]; expected distinct source names/],
    [{ defaultMetrics: 'yes' }, /"defaultMetrics" is "yes"; expected true or false/],
    [{ prot: 9464 }, /metrics option "prot" is 9464; expected .*port/],
    [null, /metrics option "options" is null/],
  ];
  for (const [options, message] of cases) {
    t.throws(() => metrics(options as never), { name: 'TrellisError', code: 'ERR_INVALID_OPTION', message }, JSON.stringify(options));
  }
  t.end();
});

t.test('plugin instances sharing a registry share the families; their counts add up', async (t) => {
  const registry = new Registry();
  const server = await echoServer(t, 'a');
  const address = `127.0.0.1:${server.port}`;
  const one = new RpcClient({ service: loadEchoService(), addresses: [address], plugins: [metrics({ registry })] });
  const two = new RpcClient({ service: loadEchoService(), addresses: [address], plugins: [metrics({ registry })] });
  t.teardown(async () => {
    await one.close();
    await two.close();
  });
  await one.invoke('Echo', {});
  await two.invoke('Echo', {});
  await two.invoke('Echo', {});
  const m = parseExposition(await registry.metrics());
  t.equal(m.value('trellis_client_requests_total', { code: 'OK' }), 3);
  t.equal(m.value('trellis_client_endpoint_inflight', { endpoint: address }), 0, 'one series for the two clients');
  t.throws(() => metrics({ registry, buckets: [1, 2] }), { code: 'ERR_INVALID_OPTION', message: /"buckets" is \[1,2\]; expected the buckets of the other metrics plugin on this registry/ });
  t.doesNotThrow(() => metrics({ registry, buckets: [1, 2], prefix: 'other_' }), 'another prefix is another family set');
});

t.test('a registry that already holds a metric of the same name fails the start, naming the fix', async (t) => {
  const registry = new Registry();
  new Counter({ name: 'trellis_client_requests_total', help: 'someone else’s', registers: [registry] });
  const server = await echoServer(t, 'a');
  const client = new RpcClient({ service: loadEchoService(), addresses: [`127.0.0.1:${server.port}`], plugins: [metrics({ registry })] });
  t.teardown(() => client.close());
  await t.rejects(client.start(), { code: 'ERR_INVALID_OPTION', message: /registry" already holds a metric named trellis_client_requests_total .*pass another "prefix"/ });
});

t.test('the HTTP endpoint: 404 elsewhere, 405 for POST, HEAD, a custom path and prefix', async (t) => {
  const server = await echoServer(t, 'a');
  const plugin = metrics({ port: 0, host: '127.0.0.1', path: '/internal/prom', prefix: 'rpc_' });
  const client = new RpcClient({ service: loadEchoService(), addresses: [`127.0.0.1:${server.port}`], plugins: [plugin] });
  t.teardown(() => client.close());
  await client.invoke('Echo', {});
  t.match(plugin.url, /^http:\/\/127\.0\.0\.1:\d+\/internal\/prom$/);
  t.equal(plugin.url, `http://127.0.0.1:${plugin.port}/internal/prom`);
  const ok = await fetch(plugin.url!);
  t.equal(ok.status, 200);
  t.match(await ok.text(), /^rpc_client_requests_total\{service="trellis\.test\.EchoService",method="Echo",code="OK"\} 1$/m);
  const root = new URL(plugin.url!);
  t.equal((await fetch(new URL('/metrics', root))).status, 404);
  const post = await fetch(plugin.url!, { method: 'POST' });
  t.equal(post.status, 405);
  t.equal(post.headers.get('allow'), 'GET, HEAD');
  const head = await fetch(plugin.url!, { method: 'HEAD' });
  t.equal(head.status, 200);
  t.equal(await head.text(), '');
  t.equal((await fetch(`${plugin.url!}?x=1`)).status, 200, 'a query string is fine');
});

t.test('the endpoint lives as long as the clients and servers using the plugin', async (t) => {
  const plugin = metrics({ port: 0, host: '127.0.0.1' });
  const provider = new RpcServer({ host: '127.0.0.1', plugins: [plugin] });
  provider.addService(loadEchoService(), createEchoHandlers({ servedBy: 'a' }));
  await provider.start();
  const client = new RpcClient({ service: loadEchoService(), addresses: [`127.0.0.1:${provider.port}`], plugins: [plugin] });
  await client.invoke('Echo', {});
  const url = plugin.url!;
  const m = parseExposition(await (await fetch(url)).text());
  t.equal(m.value('trellis_client_requests_total', { code: 'OK' }), 1, 'one plugin, both sides in one registry');
  t.equal(m.value('trellis_server_requests_total', { code: 'OK' }), 1);
  await client.close();
  t.equal((await fetch(url)).status, 200, 'still served: the server uses it');
  await provider.close({ graceMs: 1000 });
  t.equal(plugin.url, undefined);
  await t.rejects(fetch(url), 'closed with the last user');
});

t.test('a port already taken fails the start; once it is free the same plugin serves on it', async (t) => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as { port: number }).port;
  const server = await echoServer(t, 'a');
  const plugin = metrics({ port, host: '127.0.0.1' });
  const first = new RpcClient({ service: loadEchoService(), addresses: [`127.0.0.1:${server.port}`], plugins: [plugin] });
  t.teardown(() => first.close());
  await t.rejects(first.start(), { code: 'EADDRINUSE' });
  t.equal(plugin.url, undefined);

  await new Promise((resolve) => blocker.close(resolve));
  const second = new RpcClient({ service: loadEchoService(), addresses: [`127.0.0.1:${server.port}`], plugins: [plugin] });
  await second.invoke('Echo', {});
  t.equal(plugin.port, port);
  t.equal((await fetch(plugin.url!)).status, 200);
  await second.close();
  t.equal(plugin.url, undefined, 'the failed start left no user behind: the endpoint stops with the last client');
});

t.test('defaultMetrics adds prom-client’s process metrics', async (t) => {
  const plugin = metrics({ defaultMetrics: true });
  const text = await plugin.text();
  t.match(text, /^process_cpu_user_seconds_total /m);
  t.match(text, /^nodejs_eventloop_lag_seconds /m);
  t.notMatch(await metrics().text(), /process_cpu/, 'off by default');
});

t.test('serveMetrics serves any registry', async (t) => {
  const registry = new Registry();
  new Counter({ name: 'my_total', help: 'mine', registers: [registry] }).inc(4);
  const served = await serveMetrics(registry, { port: 0, host: '127.0.0.1' });
  t.teardown(() => served.close());
  t.equal(served.url, `http://127.0.0.1:${served.port}/metrics`);
  t.equal(parseExposition(await (await fetch(served.url)).text()).value('my_total'), 4);
});
