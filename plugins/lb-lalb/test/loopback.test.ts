/**
 * LALB end to end: real servers on loopback, one fast and one slow, reached through `client.use()`
 * and through `@RpcReference({ plugins })`. The fast one must end up with most of the calls.
 */
import t from 'tap';
import { RpcClient, RpcReference, RpcServer, StaticRegistry, provideReferences, referenceToken } from '@trellis/core';
import { countServedBy, loadEchoService, startEchoServer, type EchoCaller as EchoStub } from '@trellis/testkit';
import { lalb } from '../src/index.js';


// The slow server takes 100 ms, the fast one 1 ms: on a loaded machine every call also waits for
// the event loop, which narrows the gap LALB sees (with 25 ms the fast share fell to 80.7 % at load 25).
async function startServer(t: { teardown(fn: () => unknown): void }, name: string, delayMs: number): Promise<string> {
  const server = await startEchoServer({ servedBy: name, delayMs });
  t.teardown(() => server.close());
  return server.address;
}

t.test('client.use(lalb()): the fast server gets most of the calls', async (t) => {
  const fast = await startServer(t, 'fast', 1);
  const slow = await startServer(t, 'slow', 100);
  // The per-call timeout is not what this test is about: 10 s outlasts a loaded machine's stalls
  // (at 2 s one stalled call would have failed the whole count).
  const client = new RpcClient({ service: loadEchoService(), addresses: [fast, slow], timeoutMs: 10_000 });
  client.use(lalb());
  t.teardown(() => client.close());
  const stub = client.stub<EchoStub>();
  await countServedBy(stub, 300, 8); // learning
  const served = await countServedBy(stub, 600, 8);
  const share = (served.get('fast') ?? 0) / 600;
  t.ok(share > 0.8, `the 1 ms server answered ${(share * 100).toFixed(1)} % of the calls (round robin: 50 %)`);
});

t.test('@RpcReference({ plugins: [lalb()] }) does the same', async (t) => {
  const fast = await startServer(t, 'fast', 1);
  const slow = await startServer(t, 'slow', 100);
  class Frontend {
    constructor(@RpcReference('trellis.test.EchoService', { plugins: [lalb()] }) readonly echo: EchoStub) {}
  }
  void Frontend;
  const holder = new RpcServer();
  const container = holder.container.createChildContainer();
  const references = provideReferences(container, { registry: new StaticRegistry([fast, slow]), services: [loadEchoService()] });
  t.teardown(() => references.close());
  // Every option is part of the reference's token (plugins by name), so the lookup names them too.
  const stub = container.resolve<EchoStub>(referenceToken('trellis.test.EchoService', { plugins: [lalb()] }));
  await countServedBy(stub, 300, 8);
  const served = await countServedBy(stub, 600, 8);
  const share = (served.get('fast') ?? 0) / 600;
  t.ok(share > 0.8, `the 1 ms server answered ${(share * 100).toFixed(1)} % of the calls`);
});
