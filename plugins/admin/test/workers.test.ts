import { join } from 'node:path';
import t from 'tap';
import { echoAcrossWorkers, startWorkerGroup, workerGroupClient, type WorkerGroupReady } from '@trellis/testkit';

// A real 2-worker provider (RpcServer({ workers: 2 })) with admin() and metrics() in its plugins: one
// console for the group, served by the primary, lists both workers and sums what they served.
interface Ready extends WorkerGroupReady { consoleUrl: string }

t.test('one console for a worker group: every worker, and the figures summed across them', async (t) => {
  const group = await startWorkerGroup<Ready>(join(__dirname, 'fixtures', 'worker-group-provider.cjs'));
  t.teardown(() => group.stop());
  const { ready } = group;
  t.match(ready.consoleUrl, /^http:\/\/127\.0\.0\.1:\d+\/$/, 'the primary serves the console');

  // Several connections: node:cluster hands each new one to the next worker.
  const client = workerGroupClient(ready.port, 4);
  t.teardown(() => client.close());
  const calls = 200;
  const servedBy = await echoAcrossWorkers(client, calls);
  t.equal(servedBy.size, 2, `both workers served calls (${[...servedBy.values()].join(' + ')})`);

  const response = await fetch(new URL('/api/workers', ready.consoleUrl));
  const body = (await response.json()) as {
    workers: { slot: number; pid: number; state: string; uptimeSeconds: number; restarts: number; connections: number; inflight: number; error?: string }[];
    group: { workers: number; answered: number; ready: number; connections: number; methods: Record<string, { calls: Record<string, number>; latency: { count: number } }> };
    detail: { pid: number; methods?: Record<string, { calls: Record<string, number> }> }[];
  };
  t.equal(response.status, 200, JSON.stringify(body).slice(0, 300));
  t.same(body.workers.map((w) => w.slot), [1, 2], 'both slots');
  t.same(body.workers.map((w) => w.pid).sort(), [...ready.pids].sort(), 'the workers the primary forked, by pid');
  for (const worker of body.workers) {
    t.equal(worker.state, 'ready');
    t.equal(worker.error, undefined, `worker ${worker.slot} answered over IPC`);
    t.equal(worker.restarts, 0);
    t.ok(worker.uptimeSeconds >= 0);
    t.equal(worker.inflight, 0, 'nothing in flight once the calls are answered');
  }
  t.equal(body.group.answered, 2);
  t.equal(body.workers.reduce((s, w) => s + w.connections, 0), 4, "the client's 4 connections, spread over the workers");
  t.equal(body.group.methods['test.Echo/Echo']?.calls.OK, calls, 'calls summed across the workers');
  t.equal(body.group.methods['test.Echo/Echo']?.latency.count, calls, 'latency histograms summed');
  // Per-worker detail: each worker's own count is what it served (the servedBy tally).
  for (const detail of body.detail) {
    t.equal(detail.methods?.['test.Echo/Echo']?.calls.OK, servedBy.get(String(detail.pid)), `worker ${detail.pid}'s own count`);
  }

  // The console's server list shows the group's summary from the primary (no IPC needed).
  const servers = (await (await fetch(new URL('/api/servers', ready.consoleUrl))).json()) as { workers: { slot: number; pid: number }[] }[];
  t.equal(servers.length, 1, 'one server: the group');
  t.equal(servers[0]!.workers.length, 2);

  // A worker killed: its slot shows the replacement with one restart.
  const victim = body.workers[0]!;
  process.kill(victim.pid, 'SIGKILL');
  let after = body;
  // Up to 30 s: a replacement worker boots slowly on a loaded machine (200 polls were about 10 s).
  for (const until = Date.now() + 30_000; Date.now() < until;) {
    after = (await (await fetch(new URL('/api/workers', ready.consoleUrl))).json()) as typeof body;
    const slot = after.workers.find((w) => w.slot === victim.slot);
    if (slot !== undefined && slot.pid !== victim.pid && slot.state === 'ready') break;
    await new Promise((r) => setTimeout(r, 50)); // polling the API under test: there is no event to await from outside
  }
  const replaced = after.workers.find((w) => w.slot === victim.slot)!;
  t.not(replaced.pid, victim.pid, 'the slot has a new worker');
  t.equal(replaced.restarts, 1, 'its restart is counted');
  t.equal(after.workers.length, 2);
});
