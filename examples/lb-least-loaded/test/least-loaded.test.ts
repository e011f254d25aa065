import t from 'tap';
import { Code, MemoryRegistry, RpcClient, RpcError, RpcServer, type Attempt, type MessageCodec, type ServiceDefinition } from '@trellis/core';
import { AttemptStats, LeastLoadedBalancer, leastLoaded } from '../src/index.js';

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
  const plugin = leastLoaded();
  const client = new RpcClient({ service: SERVICE, registry, loadBalancer: 'least-loaded', plugins: [plugin] });
  t.teardown(async () => { await client.close(); await Promise.all(servers.map((s) => s.close())); });
  // 16 callers in a closed loop: the fast provider frees its slots sooner and wins the comparisons.
  await Promise.all(Array.from({ length: 16 }, async () => { for (let i = 0; i < 25; i++) await client.invoke('Work', {}); }));
  t.equal(served.fast! + served.slow!, 400);
  t.ok(served.fast! > 2 * served.slow!, `fast ${served.fast} vs slow ${served.slow}`);
  // The attempt hook saw every attempt, on the endpoint that served it.
  const stats = Object.values(plugin.stats());
  t.equal(stats.length, 2);
  t.equal(stats.reduce((n, s) => n + s.attempts, 0), 400, 'one report per attempt');
  t.same(stats.map((s) => s.attempts).sort((a, b) => a - b), [served.slow, served.fast].sort((a, b) => a! - b!), 'per endpoint, as the servers counted');
  t.ok(stats.every((s) => s.failures === 0));
  const [slower, faster] = [...stats].sort((a, b) => a.attempts - b.attempts);
  t.ok(slower!.meanLatencyMs > faster!.meanLatencyMs, `slow ${slower!.meanLatencyMs.toFixed(1)} ms > fast ${faster!.meanLatencyMs.toFixed(1)} ms on average`);
});

t.test('the attempt hook counts failures, not answers', async (t) => {
  const stats = new AttemptStats();
  const endpoint = { id: 'a:1', host: 'a', port: 1, weight: 100, version: '1.0.0', tags: {} };
  const attempt = (error?: RpcError) => ({ endpoint, latencyMs: 2, error }) as unknown as Attempt;
  stats.attemptEnd(attempt());
  stats.attemptEnd(attempt(new RpcError(Code.UNAVAILABLE, 'down')));
  stats.attemptEnd(attempt(new RpcError(Code.NOT_FOUND, 'an answer')));
  t.same(stats.snapshot(), { 'a:1': { attempts: 3, failures: 1, meanLatencyMs: 2 } });
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
