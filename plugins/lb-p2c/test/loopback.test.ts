/**
 * P2C end to end: real servers on loopback, one fast and one slow, reached through `client.use()`
 * and through `@RpcReference({ loadBalancer: 'p2c' })`. The fast one must end up with most calls.
 */
import t from 'tap';
import { RpcClient, RpcReference, RpcServer, StaticRegistry, provideReferences, referenceToken } from '@trellis/core';
import { countServedBy, loadEchoService, startEchoServer, type EchoCaller as EchoStub } from '@trellis/testkit';
import { P2cBalancer, p2c } from '../src/index.js';


async function fastAndSlow(t: { teardown(fn: () => unknown): void }): Promise<[string, string]> {
  const fast = await startEchoServer({ servedBy: 'fast', delayMs: 1 });
  const slow = await startEchoServer({ servedBy: 'slow', delayMs: 100 });
  t.teardown(() => Promise.all([fast.close(), slow.close()]));
  return [fast.address, slow.address];
}

t.test('client.use(p2c()): the fast server gets most of the calls', async (t) => {
  const addresses = await fastAndSlow(t);
  const balancers: P2cBalancer[] = [];
  // The per-call timeout is not what this test is about: 10 s outlasts a loaded machine's stalls
  // (at 2 s one stalled call would have failed the whole count).
  const client = new RpcClient({ service: loadEchoService(), addresses, timeoutMs: 10_000 });
  client.use(p2c({ onBalancer: (b) => balancers.push(b) }));
  t.teardown(() => client.close());
  const stub = client.stub<EchoStub>();
  await countServedBy(stub, 100, 8); // first answers
  const served = await countServedBy(stub, 600, 8);
  const share = (served.get('fast') ?? 0) / 600;
  t.ok(share > 0.8, `the 1 ms server answered ${(share * 100).toFixed(1)} % of the calls (round robin: 50 %)`);
  t.equal(balancers.length, 1, 'the plugin made this client’s balancer');
  t.same(balancers[0]!.snapshot().map((r) => r.inFlight), [0, 0], 'and it saw every call end');
});

t.test("@RpcReference({ loadBalancer: 'p2c' }) selects it by name", async (t) => {
  const addresses = await fastAndSlow(t);
  class Frontend {
    constructor(@RpcReference('trellis.test.EchoService', { loadBalancer: 'p2c' }) readonly echo: EchoStub) {}
  }
  void Frontend;
  const holder = new RpcServer();
  const container = holder.container.createChildContainer();
  const balancers: P2cBalancer[] = [];
  const references = provideReferences(container, {
    registry: new StaticRegistry(addresses),
    services: [loadEchoService()],
    plugins: () => [p2c({ register: 'named-only', onBalancer: (b) => balancers.push(b) })],
  });
  t.teardown(() => references.close());
  const stub = container.resolve<EchoStub>(referenceToken('trellis.test.EchoService', { loadBalancer: 'p2c' }));
  await countServedBy(stub, 100, 8);
  const served = await countServedBy(stub, 600, 8);
  const share = (served.get('fast') ?? 0) / 600;
  t.ok(share > 0.8, `the 1 ms server answered ${(share * 100).toFixed(1)} % of the calls`);
  t.equal(balancers.length, 1, 'the named balancer was created for the reference’s client');
});
