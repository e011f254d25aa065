import t from 'tap';
import { MemoryRegistry, RpcClient, RpcServer, type MessageCodec, type ServiceDefinition } from '@trellis/core';
import { LeastLoadedBalancer, leastLoaded } from '../src/index.js';

const json: MessageCodec<unknown> = {
  encode: (m) => Buffer.from(JSON.stringify(m)),
  decode: (b) => JSON.parse(Buffer.from(b).toString()),
};
const SERVICE: ServiceDefinition = {
  name: 'example.Work',
  methods: { Work: { name: 'Work', localName: 'work', requestCodec: json, responseCodec: json, idempotent: true, options: {} } },
};

t.test('the slow provider gets fewer calls than the fast one', async (t) => {
  const registry = new MemoryRegistry();
  const served: Record<string, number> = { fast: 0, slow: 0 };
  const servers = await Promise.all(
    (['fast', 'slow'] as const).map((name) => {
      const server = new RpcServer({ host: '127.0.0.1', registry });
      server.addService(SERVICE, {
        work: async () => {
          served[name]!++;
          await new Promise((r) => setTimeout(r, name === 'fast' ? 1 : 50));
          return { name };
        },
      });
      return server.start();
    }),
  );
  const client = new RpcClient({ service: SERVICE, registry, loadBalancer: 'least-loaded', plugins: [leastLoaded()] });
  t.teardown(async () => { await client.close(); await Promise.all(servers.map((s) => s.close())); });
  // 16 callers in a closed loop: the fast provider frees its slots sooner and wins the comparisons.
  await Promise.all(Array.from({ length: 16 }, async () => { for (let i = 0; i < 25; i++) await client.invoke('Work', {}); }));
  t.equal(served.fast! + served.slow!, 400);
  t.ok(served.fast! > 2 * served.slow!, `fast ${served.fast} vs slow ${served.slow}`);
});

t.test('excluded endpoints are never picked, and done() counts once', async (t) => {
  const balancer = new LeastLoadedBalancer(() => 0.99);
  const a = { id: 'a:1', host: 'a', port: 1, weight: 100, version: '1.0.0', tags: {} };
  const b = { id: 'b:1', host: 'b', port: 1, weight: 100, version: '1.0.0', tags: {} };
  const inv = { excluded: new Set(['b:1']) } as never;
  const pick = balancer.pick([a, b], inv)!;
  t.equal(pick.endpoint.id, 'a:1');
  t.equal(balancer.load(a), 1);
  pick.done({ latencyMs: 1 });
  pick.done({ latencyMs: 1 });
  t.equal(balancer.load(a), 0);
  t.equal(balancer.pick([b], inv), undefined);
});
