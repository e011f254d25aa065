import t from 'tap';
import { RpcClient } from '@trellis/core';
import { loadEchoService, startProvider } from '@trellis/testkit';
import { health } from '../src/index.js';
import { callMany, recordChanges, stateOf, untilState } from './fixtures/helpers.js';

t.test('a provider frozen with SIGSTOP turns sub-healthy, gets no new calls, and is back after SIGCONT', async (t) => {
  const providers = await Promise.all(['a', 'b', 'c'].map((name) => startProvider({ name })));
  t.teardown(() => Promise.all(providers.map((p) => p.stop())));
  const settings = { intervalMs: 200, timeoutMs: 500, failureThreshold: 3 };
  const plugin = health({ ...settings, availability: false, warmupMs: 0 });
  const changes = recordChanges(plugin);
  const client = new RpcClient({ service: loadEchoService(), addresses: providers.map((p) => p.address), plugins: [plugin] });
  t.teardown(() => client.close());
  await client.start();

  const warm = await callMany(client, 30);
  t.same([...warm.servedBy.keys()].sort(), ['a', 'b', 'c'], 'round robin reaches every provider at first');
  const frozen = providers[1]!;
  const callsBefore = (await frozen.stats()).calls;

  const frozenAt = Date.now();
  frozen.pause();
  await untilState(plugin, frozen.address, 'subhealthy');
  // Three heartbeats of 500 ms that find no PONG, with some room for a loaded machine.
  const bound = settings.failureThreshold * (settings.intervalMs + settings.timeoutMs) * 4;
  t.ok(Date.now() - frozenAt < bound, `detected within ${bound} ms (took ${Date.now() - frozenAt} ms)`);
  const change = changes.find((c) => c.endpoint.id === frozen.address && c.to === 'subhealthy')!;
  t.equal(change.from, 'healthy');
  t.match(change.reason, /3 heartbeats in a row failed \(last: no PONG/);
  t.equal(stateOf(plugin, providers[0]!.address), 'healthy', 'the others stay healthy');
  t.equal(client.healthView.state(client.endpoints[1]!), 'subhealthy', 'the client filters on the plugin\'s view');

  // 10 s per call: a loaded machine can stall a healthy provider's answer past 2 s. A call routed to
  // the frozen provider would still hang until it times out and fail the check below.
  const during = await callMany(client, 60, { timeoutMs: 10_000 });
  t.same(during.errors.map((e) => e.message), [], 'no call failed');
  t.equal(during.servedBy.get('b'), undefined, 'no call went to the frozen provider');
  t.equal((during.servedBy.get('a') ?? 0) + (during.servedBy.get('c') ?? 0), 60);

  frozen.resume();
  await untilState(plugin, frozen.address, 'healthy');
  t.equal((await frozen.stats()).calls, callsBefore, 'the frozen provider received nothing while it was sub-healthy');
  const back = changes.filter((c) => c.endpoint.id === frozen.address).at(-1)!;
  t.same([back.from, back.to, back.reason], ['subhealthy', 'healthy', 'heartbeats answered again']);
  const after = await callMany(client, 30);
  t.ok((after.servedBy.get('b') ?? 0) > 0, `it gets traffic again (${JSON.stringify([...after.servedBy])})`);
  t.same(after.errors, []);
});
