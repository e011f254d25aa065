/**
 * Consistent hashing end to end: three real servers on loopback, reached through `client.use()` and
 * through `@RpcReference({ loadBalancer: 'consistent-hash' })`. The same `id` must always be served
 * by the same server, different ids must spread, and with a server gone its keys move and the
 * others' stay.
 */
import t from 'tap';
import { RpcClient, RpcReference, RpcServer, StaticRegistry, provideReferences, referenceToken } from '@trellis/core';
import { loadEchoService, startEchoServer, type EchoReply, type EchoRequest } from '@trellis/testkit';
import { ConsistentHashBalancer, consistentHash } from '../src/index.js';

interface EchoStub {
  echo(request: Partial<EchoRequest>): Promise<EchoReply>;
}

async function threeServers(t: { teardown(fn: () => unknown): void }) {
  const servers = await Promise.all(['s1', 's2', 's3'].map((servedBy) => startEchoServer({ servedBy })));
  t.teardown(() => Promise.all(servers.map((s) => s.close())));
  return servers;
}

/**
 * Which server answered each of `ids`, asked `rounds` times in turn, one call at a time: with many
 * calls in flight at once, bounded load would rightly send some elsewhere (bounded-load.test.ts).
 */
async function servedBy(stub: EchoStub, ids: readonly string[], rounds: number): Promise<Map<string, Set<string>>> {
  const seen = new Map<string, Set<string>>(ids.map((id) => [id, new Set()]));
  for (let round = 0; round < rounds; round++) {
    for (const id of ids) seen.get(id)!.add((await stub.echo({ message: 'hash', id })).servedBy);
  }
  return seen;
}

const IDS = Array.from({ length: 60 }, (_, i) => String(1000 + i));

t.test("client.use(consistentHash({ field: 'id' })): one id, one server; a server leaves, only its ids move", async (t) => {
  const servers = await threeServers(t);
  const balancers: ConsistentHashBalancer[] = [];
  // The per-call timeout is not what this test is about: 10 s outlasts a loaded machine's stalls.
  const client = new RpcClient({ service: loadEchoService(), addresses: servers.map((s) => s.address), timeoutMs: 10_000 });
  client.use(consistentHash({ field: 'id', onBalancer: (b) => balancers.push(b) }));
  t.teardown(() => client.close());
  const stub = client.stub<EchoStub>();
  const before = await servedBy(stub, IDS, 3);
  for (const [id, by] of before) if (by.size !== 1) t.fail(`id ${id} was served by ${[...by].join(', ')}`);
  const owner = new Map([...before].map(([id, by]) => [id, [...by][0]!]));
  const counts = new Map<string, number>();
  for (const server of owner.values()) counts.set(server, (counts.get(server) ?? 0) + 1);
  t.equal(counts.size, 3, `60 ids spread over all three servers: ${[...counts].map(([s, n]) => `${s} ${n}`).join(', ')}`);
  t.same(balancers[0]!.snapshot().map((r) => r.inFlight), [0, 0, 0], 'every call ended');

  // s2 stops: its ids move (the kernel's transparent retry and the walk send them on), the rest stay.
  await servers[1]!.close();
  const after = await servedBy(stub, IDS, 2);
  for (const [id, by] of after) {
    const was = owner.get(id)!;
    if (was !== 's2') t.same([...by], [was], `id ${id} stays on ${was}`);
    else t.notOk(by.has('s2'), `id ${id} left s2`);
  }
});

t.test("@RpcReference({ loadBalancer: 'consistent-hash' }) selects it by name", async (t) => {
  const servers = await threeServers(t);
  class Frontend {
    constructor(@RpcReference('trellis.test.EchoService', { loadBalancer: 'consistent-hash' }) readonly echo: EchoStub) {}
  }
  void Frontend;
  const holder = new RpcServer();
  const container = holder.container.createChildContainer();
  const references = provideReferences(container, {
    registry: new StaticRegistry(servers.map((s) => s.address)),
    services: [loadEchoService()],
    plugins: () => [consistentHash({ field: 'id', register: 'named-only' })],
  });
  t.teardown(() => references.close());
  const stub = container.resolve<EchoStub>(referenceToken('trellis.test.EchoService', { loadBalancer: 'consistent-hash' }));
  const seen = await servedBy(stub, IDS, 3);
  t.ok([...seen.values()].every((by) => by.size === 1), 'each id always reached the same server');
  t.equal(new Set([...seen.values()].map((by) => [...by][0])).size, 3, 'and the ids reached all three');
});
