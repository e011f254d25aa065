import { join } from 'node:path';
import t from 'tap';
import { startWorkerGroup, type WorkerGroupReady } from '@trellis/testkit';

// A provider serving from 2 worker processes (RpcServer({ workers })), health plugin in each worker,
// the group's health endpoint in the primary (serveWorkerHealth): SERVING while the group serves,
// NOT_SERVING once its workers crash-loop (maxCrashes 1: two kill -9 in a row).
interface Ready extends WorkerGroupReady { healthUrl: string }

t.test("the primary's health endpoint answers for the group, and turns NOT_SERVING on a crash loop", async (t) => {
  const group = await startWorkerGroup<Ready>(join(__dirname, 'fixtures', 'worker-health-provider.cjs'));
  t.teardown(() => group.stop());
  const { ready } = group;

  const before = await fetch(ready.healthUrl);
  t.same([before.status, await before.text()], [200, 'SERVING\n'], 'SERVING once every worker is ready');

  for (const pid of ready.pids) process.kill(pid, 'SIGKILL');
  await group.next((m) => (m.event as { type?: string } | undefined)?.type === 'crash-loop');
  const after = await fetch(ready.healthUrl);
  t.same([after.status, await after.text()], [503, 'NOT_SERVING\n'], 'NOT_SERVING after the crash loop');
});
