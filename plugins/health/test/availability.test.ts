import t, { type Test } from 'tap';
import { Code, RpcClient, RpcServer } from '@trellis/core';
import { createEchoHandlers, loadEchoService, startProvider, type ProviderProcess } from '@trellis/testkit';
import { health, type AvailabilityOptions } from '../src/index.js';
import { callMany, recordChanges, stateOf, untilState } from './fixtures/helpers.js';

const availability: AvailabilityOptions = { windowMs: 20_000, buckets: 20, threshold: 0.8, minCalls: 20 };
let a: ProviderProcess;
let b: ProviderProcess;
let c: ProviderProcess;

t.before(async () => {
  [a, b, c] = await Promise.all(['a', 'b', 'c'].map((name) => startProvider({ name }))) as [ProviderProcess, ProviderProcess, ProviderProcess];
});
t.teardown(() => Promise.all([a, b, c].map((p) => p?.stop())));
t.beforeEach(() => Promise.all([a, b, c].map((p) => p.setBehaviour({ failRate: 0, failCode: Code.UNAVAILABLE }))).then(() => undefined));

function client(t: Test, plugins: ReturnType<typeof health>[], providers = [a, b, c]): RpcClient {
  const created = new RpcClient({ service: loadEchoService(), addresses: providers.map((p) => p.address), plugins });
  t.teardown(() => created.close());
  return created;
}

/** Calls in rounds until `done` settles (at most `rounds` × 20 calls). */
async function pumpUntil(target: RpcClient, done: Promise<unknown>, rounds = 50): Promise<void> {
  let settled = false;
  void done.finally(() => (settled = true));
  for (let round = 0; round < rounds && !settled; round++) await callMany(target, 20);
  await done;
}

t.test('a provider failing half its calls is avoided; when all are sub-healthy, calls still go to them', async (t) => {
  await b.setBehaviour({ failRate: 0.5 });
  const plugin = health({ availability, warmupMs: 0 });
  const changes = recordChanges(plugin);
  const consumer = client(t, [plugin]);

  // Round robin sends b a third of the calls until its availability drops below 80 %.
  const first = await callMany(consumer, 120);
  t.ok(first.errors.length > 0, `b's injected failures reach the caller (${first.errors.length})`);
  await pumpUntil(consumer, untilState(plugin, b.address, 'subhealthy'));
  const change = changes.find((x) => x.endpoint.id === b.address)!;
  t.same([change.from, change.to], ['healthy', 'subhealthy']);
  t.match(change.reason, /^availability \d+(\.\d)? % < 80 % over the last 20000 ms \(\d+ calls\)$/);
  t.equal(stateOf(plugin, a.address), 'healthy');
  t.equal(stateOf(plugin, c.address), 'healthy');

  const avoided = await callMany(consumer, 90);
  t.same(avoided.errors, [], 'no call fails once b is avoided');
  t.equal(avoided.servedBy.get('b'), undefined, 'no call goes to b while healthy providers exist');

  // Every provider now fails half its calls: all turn sub-healthy, and they still get the traffic.
  await Promise.all([a.setBehaviour({ failRate: 0.5 }), c.setBehaviour({ failRate: 0.5 })]);
  // Their windows still hold the earlier successes: keep calling until the failures outweigh them.
  await pumpUntil(consumer, Promise.all([untilState(plugin, a.address, 'subhealthy'), untilState(plugin, c.address, 'subhealthy')]));
  t.same(plugin.states().map((s) => s.state), ['subhealthy', 'subhealthy', 'subhealthy']);
  const degraded = await callMany(consumer, 90);
  t.ok(degraded.servedBy.size >= 2, `sub-healthy providers still serve (${JSON.stringify([...degraded.servedBy])})`);
  t.ok(degraded.errors.every((e) => /injected failure/.test(e.message)), 'failures are the providers\' own, never "no provider is usable"');
});

t.test('low availability ends when the failures age out of the window, and the provider gets calls again', async (t) => {
  await b.setBehaviour({ failRate: 1 });
  const plugin = health({ availability: { windowMs: 1500, buckets: 5, threshold: 0.8, minCalls: 10 }, intervalMs: 100, warmupMs: 0 });
  const changes = recordChanges(plugin);
  const consumer = client(t, [plugin]);
  await pumpUntil(consumer, untilState(plugin, b.address, 'subhealthy'));
  await b.setBehaviour({ failRate: 0 });
  // No call reaches b now; its heartbeats are what notice the window emptied.
  await untilState(plugin, b.address, 'healthy');
  const back = changes.filter((x) => x.endpoint.id === b.address).at(-1)!;
  t.match(back.reason, /^availability back to 100 % \(0 calls in the window\)$/);
  const after = await callMany(consumer, 30);
  t.same(after.errors, []);
  t.ok((after.servedBy.get('b') ?? 0) >= 5, `b has its share again (${JSON.stringify([...after.servedBy])})`);
});

t.test('business errors (NOT_FOUND) and cancelled calls do not lower availability', async (t) => {
  await a.setBehaviour({ failRate: 1, failCode: Code.NOT_FOUND });
  const plugin = health({ availability, warmupMs: 0 });
  const consumer = client(t, [plugin], [a, b]);
  const tally = await callMany(consumer, 60);
  t.equal(tally.errors.length, 30, 'a answers every call it gets with NOT_FOUND');
  const row = plugin.states().find((s) => s.endpoint.id === a.address)!;
  t.same(row.availability, { calls: 30, successes: 30 }, 'a business answer counts as served');
  t.equal(row.state, 'healthy');
  // Cancelled by the caller: says nothing about the endpoint, and is not counted at all.
  const controller = new AbortController();
  const pending = consumer.invoke('Echo', { delayMs: 5000 }, { signal: controller.signal });
  setImmediate(() => controller.abort());
  await t.rejects(pending, { code: Code.CANCELLED });
  const total = plugin.states().reduce((sum, s) => sum + s.availability!.calls, 0);
  t.equal(total, 60, 'the cancelled call was not recorded');
});

t.test('a ratio hovering at the threshold does not flap: recovery needs halfway to 100 %', async (t) => {
  // In-process and one provider: each call's outcome is chosen by its request (failCode).
  const server = new RpcServer({ host: '127.0.0.1' });
  server.addService(loadEchoService(), createEchoHandlers({ servedBy: 'solo' }));
  await server.start();
  t.teardown(() => server.close());
  const plugin = health({ availability: { windowMs: 60_000, threshold: 0.8, minCalls: 10 }, warmupMs: 0 });
  const consumer = new RpcClient({ service: loadEchoService(), addresses: [`127.0.0.1:${server.port}`], plugins: [plugin] });
  t.teardown(() => consumer.close());
  const call = (fail: boolean) => consumer.invoke('Echo', { failCode: fail ? Code.INTERNAL : 0 }).catch(() => undefined);
  for (let i = 0; i < 7; i++) await call(false);
  for (let i = 0; i < 3; i++) await call(true);
  t.equal(plugin.states()[0]!.state, 'subhealthy', '7 of 10: below 80 %');
  for (let i = 0; i < 5; i++) await call(false);
  t.same(plugin.states()[0]!.availability, { calls: 15, successes: 12 });
  t.equal(plugin.states()[0]!.state, 'subhealthy', 'back at exactly 80 %: not yet recovered');
  for (let i = 0; i < 14; i++) await call(false);
  t.equal(plugin.states()[0]!.state, 'subhealthy', '26 of 29 (89.7 %): still not');
  await call(false);
  t.equal(plugin.states()[0]!.state, 'healthy', '27 of 30: 90 %, halfway from 80 % to 100 %');
  t.match(plugin.states()[0]!.reason, /^availability back to 90 % \(30 calls in the window\)$/);
});
