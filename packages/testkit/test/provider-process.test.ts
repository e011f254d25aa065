import t from 'tap';
import { Code, RpcClient, type RpcError } from '@trellis/core';
import { loadEchoService, startProvider, waitFor } from '../src/index.js';

t.test('a provider child process serves, reports stats, changes behaviour, and stops gracefully', async (t) => {
  const provider = await startProvider({ name: 'p1' });
  // 30 s per call: a loaded machine can stall the child for seconds; no deadline is tested here.
  const client = new RpcClient({ service: loadEchoService(), addresses: [provider.address], timeoutMs: 30_000 });
  t.teardown(async () => { await client.close(); await provider.kill(); });
  const reply = (await client.invoke('Echo', { message: 'hi', id: 7 })) as { servedBy: string; id: string };
  t.equal(reply.servedBy, 'p1');
  t.equal(reply.id, '7');
  await provider.setBehaviour({ failRate: 1, failCode: Code.RESOURCE_EXHAUSTED });
  t.equal(((await client.invoke('Echo', {}).catch((e: unknown) => e)) as RpcError).code, Code.RESOURCE_EXHAUSTED);
  t.match(await provider.stats(), { calls: 2, byMethod: { Echo: 2 }, attempts: { 1: 2 } });
  await provider.stop();
  await waitFor(() => client.healthView.state(client.endpoints[0]!) === 'dead');
});

t.test('a frozen provider answers nothing until resumed', async (t) => {
  const provider = await startProvider({ name: 'p2' });
  // 30 s per call, but for the frozen one: its 200 ms deadline is what shows the provider answers nothing.
  const client = new RpcClient({ service: loadEchoService(), addresses: [provider.address], timeoutMs: 30_000 });
  t.teardown(async () => { await client.close(); await provider.kill(); });
  await client.invoke('Echo', {});
  provider.pause();
  t.equal(((await client.invoke('Echo', {}, { timeoutMs: 200 }).catch((e: unknown) => e)) as RpcError).code, Code.DEADLINE_EXCEEDED);
  provider.resume();
  t.equal(((await client.invoke('Echo', { message: 'back' })) as { message: string }).message, 'back');
});
