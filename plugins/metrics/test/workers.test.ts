import { fork } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { RpcClient, type ServiceDefinition } from '@trellis/core';

// A provider serving from 2 worker processes (RpcServer({ workers })), each with the metrics plugin;
// the primary's serveWorkerMetrics endpoint must count the calls of both workers.
const codec = {
  encode: (message: unknown) => Buffer.from(JSON.stringify(message)),
  decode: (bytes: Uint8Array) => JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown,
};
const ECHO: ServiceDefinition = {
  name: 'test.Echo',
  methods: { Echo: { name: 'Echo', localName: 'echo', requestCodec: codec, responseCodec: codec, idempotent: true, options: {} } },
};

t.test('the primary serves the metrics of every worker, merged', async (t) => {
  const child = fork(join(__dirname, 'fixtures', 'worker-metrics-provider.cjs'), [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  t.teardown(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
  });
  const ready = await new Promise<{ port: number; metricsUrl: string }>((resolve, reject) => {
    child.on('message', (m: { ready?: { port: number; metricsUrl: string } }) => m.ready && resolve(m.ready));
    child.once('exit', (code) => reject(new Error(`the provider exited (${code}) before it was ready`)));
  });
  // Several connections: node:cluster hands each new connection to the next worker.
  const client = new RpcClient({ service: ECHO, addresses: [`127.0.0.1:${ready.port}`], tcp: { connectionsPerEndpoint: 4 } });
  t.teardown(() => client.close());
  const calls = 200;
  const servedBy = new Map<string, number>();
  for (let i = 0; i < calls; i++) {
    const { servedBy: pid } = (await client.invoke('Echo', {})) as { servedBy: string };
    servedBy.set(pid, (servedBy.get(pid) ?? 0) + 1);
  }
  t.equal(servedBy.size, 2, `both workers served calls (${[...servedBy.values()].join(' + ')})`);

  const response = await fetch(ready.metricsUrl);
  const text = await response.text();
  t.equal(response.status, 200, response.status === 200 ? 'scraped' : text);
  const line = text.split('\n').find((l) => l.startsWith('trellis_server_requests_total{') && l.includes('method="Echo"') && l.includes('code="OK"'));
  t.ok(line, 'the server request counter is exposed');
  t.equal(Number(line!.split(' ').at(-1)), calls, 'it counts the calls of both workers: merged, not one worker\'s share');
});
