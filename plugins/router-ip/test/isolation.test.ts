import t from 'tap';
import { Code, RpcClient, RpcError } from '@trellis/core';
import { loadEchoService, startProvider, waitFor, type ProviderProcess } from '@trellis/testkit';
import { ipRouter } from '../src/index.js';

/**
 * Two consumer groups isolated from each other, end to end: four real providers in child processes,
 * consumers in this process told apart by their `localAddress` (what they would be on two subnets).
 * Every provider listens on 127.0.0.1, so the provider sets are written as address:port.
 */
t.test('IP rules isolate two consumer groups from each other', async (t) => {
  const names = ['a1', 'a2', 'b1', 'b2'];
  const providers = await Promise.all(names.map((name) => startProvider({ name })));
  t.teardown(() => Promise.all(providers.map((p) => p.kill())));
  const by = Object.fromEntries(names.map((n, i) => [n, providers[i]!])) as Record<string, ProviderProcess>;

  const routes = `
version: isolation-1
ip:
  - name: group-a
    from: [10.1.0.0/16]
    to: [${by.a1!.address}, ${by.a2!.address}]
  - name: group-b
    from: { allow: [10.2.0.0/16], deny: [10.2.9.9] }
    to: [${by.b1!.address}, ${by.b2!.address}]
  - name: group-b-is-reserved
    to: { deny: [${by.b1!.address}, ${by.b2!.address}] }
`;
  const service = loadEchoService();
  const addresses = providers.map((p) => p.address);
  const consumer = (localAddress: string) => new RpcClient({ service, addresses, localAddress, plugins: [ipRouter({ rules: routes })] });
  const clients = {
    a: consumer('10.1.4.20'),
    b: consumer('10.2.7.30'),
    bDenied: consumer('10.2.9.9'),
    other: consumer('192.168.5.5'),
  };
  t.teardown(() => Promise.all(Object.values(clients).map((c) => c.close())));

  const servedBy = async (client: RpcClient, calls: number) => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < calls; i++) {
      const reply = (await client.invoke('Echo', { message: `m${i}` })) as { servedBy: string };
      counts[reply.servedBy] = (counts[reply.servedBy] ?? 0) + 1;
    }
    return counts;
  };
  t.same(await servedBy(clients.a, 200), { a1: 100, a2: 100 }, 'group A reaches only its own providers');
  t.same(await servedBy(clients.b, 200), { b1: 100, b2: 100 }, 'group B reaches only its own providers');
  t.same(await servedBy(clients.bDenied, 100), { a1: 50, a2: 50 }, 'a consumer on the deny-list of group B is not in it');
  t.same(await servedBy(clients.other, 100), { a1: 50, a2: 50 }, 'everyone else stays off group B');
  const stats = await Promise.all(providers.map((p) => p.stats()));
  t.same(stats.map((s) => s.calls), [200, 200, 100, 100], 'the providers saw exactly those calls');

  // Group B's providers go away: its calls must fail, not leak to group A. The IP rule still selects
  // B's two endpoints (a static list keeps them); the health filter, which runs after routing, then
  // finds both dead, and the error names that step and the two endpoints.
  await Promise.all([by.b1!.stop(), by.b2!.stop()]);
  const bothDead = /no provider of \S+ is usable: the health router left none of the 2 it was given \(127\.0\.0\.1:\d+=dead, 127\.0\.0\.1:\d+=dead\)/;
  await waitFor(async () => {
    const error = await clients.b.invoke('Echo', {}).catch((e: RpcError) => e);
    return error instanceof RpcError && bothDead.test(error.message);
  }, { timeoutMs: 10_000, what: 'group B calls failing on its two dead endpoints' });
  const error = (await clients.b.invoke('Echo', {}).catch((e: unknown) => e)) as RpcError;
  t.equal(error.code, Code.UNAVAILABLE);
  t.equal(error.mayHaveRun, false);
  t.match(error.message, bothDead);
  const after = await Promise.all([by.a1!.stats(), by.a2!.stats()]);
  t.same(after.map((s) => s.calls), [200, 200], 'group A providers got none of group B’s calls');
  t.same(await servedBy(clients.a, 10), { a1: 5, a2: 5 }, 'group A is unaffected');
});
