/**
 * LALB end to end: real servers on loopback, one fast and one slow, reached through `client.use()`
 * and through `@RpcReference({ plugins })`. The fast one must end up with most of the calls.
 */
import t from 'tap';
import { RpcClient, RpcReference, RpcServer, StaticRegistry, provideReferences, referenceToken } from '@trellis/core';
import { loadEchoService, startEchoServer, type EchoReply, type EchoRequest } from '@trellis/testkit';
import { lalb } from '../src/index.js';

interface EchoStub {
  echo(request: Partial<EchoRequest>): Promise<EchoReply>;
}

async function startServer(t: { teardown(fn: () => unknown): void }, name: string, delayMs: number): Promise<string> {
  const server = await startEchoServer({ servedBy: name, delayMs });
  t.teardown(() => server.close());
  return server.address;
}

/** `callers` closed-loop callers, `calls` calls in all; returns the calls each server answered. */
async function drive(stub: EchoStub, calls: number, callers: number): Promise<Map<string, number>> {
  const served = new Map<string, number>();
  let left = calls;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (left-- > 0) {
        const reply = await stub.echo({ message: 'lalb' });
        served.set(reply.servedBy, (served.get(reply.servedBy) ?? 0) + 1);
      }
    }),
  );
  return served;
}

t.test('client.use(lalb()): the fast server gets most of the calls', async (t) => {
  const fast = await startServer(t, 'fast', 1);
  const slow = await startServer(t, 'slow', 25);
  const client = new RpcClient({ service: loadEchoService(), addresses: [fast, slow], timeoutMs: 2000 });
  client.use(lalb());
  t.teardown(() => client.close());
  const stub = client.stub<EchoStub>();
  await drive(stub, 300, 8); // learning
  const served = await drive(stub, 600, 8);
  const share = (served.get('fast') ?? 0) / 600;
  t.ok(share > 0.8, `the 1 ms server answered ${(share * 100).toFixed(1)} % of the calls (round robin: 50 %)`);
});

t.test('@RpcReference({ plugins: [lalb()] }) does the same', async (t) => {
  const fast = await startServer(t, 'fast', 1);
  const slow = await startServer(t, 'slow', 25);
  class Frontend {
    constructor(@RpcReference('trellis.test.EchoService', { plugins: [lalb()] }) readonly echo: EchoStub) {}
  }
  void Frontend;
  const holder = new RpcServer();
  const container = holder.container.createChildContainer();
  const references = provideReferences(container, { registry: new StaticRegistry([fast, slow]), services: [loadEchoService()] });
  t.teardown(() => references.close());
  const stub = container.resolve<EchoStub>(referenceToken('trellis.test.EchoService', {}));
  await drive(stub, 300, 8);
  const served = await drive(stub, 600, 8);
  const share = (served.get('fast') ?? 0) / 600;
  t.ok(share > 0.8, `the 1 ms server answered ${(share * 100).toFixed(1)} % of the calls`);
});
