import { join } from 'node:path';
import t from 'tap';
import { echoAcrossWorkers, startWorkerGroup, workerGroupClient, type WorkerGroupReady } from '@trellis/testkit';

// A provider serving from 2 worker processes (RpcServer({ workers })), each with the metrics plugin;
// the primary's serveWorkerMetrics endpoint must count the calls of both workers.
interface Ready extends WorkerGroupReady { metricsUrl: string }

t.test('the primary serves the metrics of every worker, merged', async (t) => {
  const group = await startWorkerGroup<Ready>(join(__dirname, 'fixtures', 'worker-metrics-provider.cjs'));
  t.teardown(() => group.stop());
  const { ready } = group;
  // Several connections: node:cluster hands each new connection to the next worker.
  const client = workerGroupClient(ready.port, 4);
  t.teardown(() => client.close());
  const calls = 200;
  const servedBy = await echoAcrossWorkers(client, calls);
  t.equal(servedBy.size, 2, `both workers served calls (${[...servedBy.values()].join(' + ')})`);

  const response = await fetch(ready.metricsUrl);
  const text = await response.text();
  t.equal(response.status, 200, response.status === 200 ? 'scraped' : text);
  const line = text.split('\n').find((l) => l.startsWith('trellis_server_requests_total{') && l.includes('method="Echo"') && l.includes('code="OK"'));
  t.ok(line, 'the server request counter is exposed');
  t.equal(Number(line!.split(' ').at(-1)), calls, 'it counts the calls of both workers: merged, not one worker\'s share');
});
