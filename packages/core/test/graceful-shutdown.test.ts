import t from 'tap';
import { Code, MemoryRegistry, RpcClient, RpcError, RpcServer } from '../src/index.js';
import { ECHO, echoHandlers, startEchoServer, waitFor } from './fixtures/json-service.js';
import { refusingAddress } from './fixtures/refusing-port.js';

t.test('close() finishes calls in flight, refuses new ones as not executed, and deregisters', async (t) => {
  const registry = new MemoryRegistry();
  const stopping = new RpcServer({ host: '127.0.0.1', registry });
  const stoppingStats = { calls: 0, aborted: [] as string[] };
  stopping.addService(ECHO, echoHandlers('stopping', stoppingStats));
  const staying = new RpcServer({ host: '127.0.0.1', registry });
  staying.addService(ECHO, echoHandlers('staying'));
  await Promise.all([stopping.start(), staying.start()]);
  const client = new RpcClient({ service: ECHO, registry });
  t.teardown(async () => { await client.close(); await staying.close(); });
  await client.start();
  await waitFor(() => client.endpoints.length === 2);

  // Non-idempotent calls in flight on the stopping server: none may be lost or cut off.
  const inflight = Array.from({ length: 40 }, (_, i) => client.invoke('Mutate', { message: `m${i}`, delayMs: 300 }));
  await waitFor(() => stoppingStats.calls >= 20);
  // The grace is a guard (the calls take 300 ms): long enough that a stalled machine cannot cancel them.
  const closed = stopping.close({ graceMs: 30_000 });
  // Calls started during the shutdown go to the other provider (GOAWAY / refusal are retried transparently).
  const during = Array.from({ length: 40 }, (_, i) => client.invoke('Mutate', { message: `d${i}` }));
  const results = await Promise.allSettled([...inflight, ...during]);
  await closed;
  const failed = results.filter((r) => r.status === 'rejected');
  t.equal(failed.length, 0, `no call failed (${failed.map((f) => (f as PromiseRejectedResult).reason?.message).join('; ')})`);
  t.same(stoppingStats.aborted, [], 'no handler was cancelled');
  const duringServedBy = results.slice(40).map((r) => (r as PromiseFulfilledResult<{ servedBy: string }>).value.servedBy);
  t.ok(duringServedBy.filter((s) => s === 'staying').length >= 35, 'calls after the GOAWAY went to the other provider');
  await waitFor(() => client.endpoints.length === 1);
  t.equal(client.endpoints[0]!.port, staying.port, 'the stopped provider left the registry');
});

t.test('a grace period that runs out cancels the handler and fails the call', async (t) => {
  const { server, address, stats } = await startEchoServer('a');
  // A deadline past the handler's 10 s: only the grace running out can fail the call (a default 5 s
  // deadline could, on a machine stalled through the shutdown).
  const client = new RpcClient({ service: ECHO, addresses: [address], timeoutMs: 60_000 });
  t.teardown(() => client.close());
  const call = client.invoke('Echo', { delayMs: 10_000 });
  await waitFor(() => stats.calls === 1);
  await server.close({ graceMs: 100 });
  const error = (await call.catch((e: unknown) => e)) as RpcError;
  t.equal(error.code, Code.UNAVAILABLE);
  t.equal(error.mayHaveRun, true, 'it may have run: retry only if idempotent');
  t.same(stats.aborted, ['UNAVAILABLE']);
});

t.test('a restarted provider on the same port is reconnected', async (t) => {
  const first = await startEchoServer('first');
  const port = first.server.port;
  const client = new RpcClient({ service: ECHO, addresses: [first.address], tcp: { backoff: { initialMs: 20, maxMs: 100 } } });
  t.teardown(() => client.close());
  t.equal(((await client.invoke('Echo', {})) as { servedBy: string }).servedBy, 'first');
  await first.server.close();
  // The GOAWAY and the close reach the client asynchronously; once seen, calls fail fast as not executed.
  await waitFor(() => client.healthView.state(client.endpoints[0]!) === 'dead');
  const down = (await client.invoke('Echo', {}).catch((e: unknown) => e)) as RpcError;
  t.equal(down.code, Code.UNAVAILABLE);
  t.equal(down.mayHaveRun, false);
  const second = await startEchoServer('second', { port });
  t.teardown(() => second.server.close());
  await waitFor(() => client.healthView.state(client.endpoints[0]!) === 'healthy');
  t.equal(((await client.invoke('Echo', {})) as { servedBy: string }).servedBy, 'second');
});

t.test('a dead address in the list is skipped without failing calls', async (t) => {
  const live = await startEchoServer('live');
  // Refused for the whole test (not a closed server's port, which another process may take).
  const dead = await refusingAddress();
  t.teardown(() => dead.close());
  const deadAddress = dead.address;
  const client = new RpcClient({ service: ECHO, addresses: [deadAddress, live.address] });
  t.teardown(async () => { await client.close(); await live.server.close(); });
  const results = await Promise.allSettled(Array.from({ length: 100 }, () => client.invoke('Echo', {})));
  t.equal(results.filter((r) => r.status === 'rejected').length, 0, 'refused dials are retried transparently');
  t.equal(client.healthView.state(client.endpoints.find((e) => e.id === deadAddress)!), 'dead');
});

t.test('with every provider gone the caller gets UNAVAILABLE naming them', async (t) => {
  const gone = await refusingAddress(); // refused for the whole test, as above
  t.teardown(() => gone.close());
  const client = new RpcClient({ service: ECHO, addresses: [gone.address] });
  t.teardown(() => client.close());
  const first = (await client.invoke('Echo', {}).catch((e: unknown) => e)) as RpcError;
  t.equal(first.code, Code.UNAVAILABLE);
  const second = (await client.invoke('Echo', {}).catch((e: unknown) => e)) as RpcError;
  t.match(second.message, new RegExp(`${gone.address.replace('.', '\\.')}=dead`));
  t.ok(second instanceof RpcError);
});
