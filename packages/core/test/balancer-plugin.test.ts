/**
 * balancerPlugin(): the plugin form balancer packages (lb-lalb, lb-p2c, lb-hash) share, through real
 * clients against a real server on loopback.
 */
import t from 'tap';
import { RpcClient, type Endpoint, type Invocation, type Pick } from '../src/index.js';
import { NOOP_DONE, balancerPlugin, type LoadBalancer } from '../src/spi.js';
import { ECHO, startEchoServer } from './fixtures/json-service.js';

/** Picks the first endpoint not excluded and counts its picks. */
class CountingBalancer implements LoadBalancer {
  readonly name = 'counting';
  picks = 0;
  constructor(readonly clockNow: number) {}
  pick(list: readonly Endpoint[], invocation: Invocation): Pick | undefined {
    const endpoint = list.find((e) => !invocation.excluded.has(e.id));
    if (endpoint === undefined) return undefined;
    this.picks++;
    return { endpoint, done: NOOP_DONE };
  }
}

const META = { name: '@acme/counting', kernel: '^0.1.0' };

t.test("'default': using the plugin makes its balancer the client's, one per client, forgotten on close", async (t) => {
  const { server, address } = await startEchoServer('s');
  t.teardown(() => server.close({ graceMs: 100 }));
  const seen: CountingBalancer[] = [];
  const plugin = balancerPlugin(META, 'counting', (ctx) => new CountingBalancer(ctx.clock.now()), { onBalancer: (b) => seen.push(b) });
  const one = new RpcClient({ service: ECHO, addresses: [address], clock: { now: () => 42 } }).use(plugin);
  const two = new RpcClient({ service: ECHO, addresses: [address] }).use(plugin);
  await one.invoke('Echo', {});
  await two.invoke('Echo', {});
  t.equal(plugin.balancers().length, 2, 'a balancer per client');
  t.same(seen, plugin.balancers(), 'onBalancer saw each as it was made');
  t.equal(seen[0]!.picks, 1);
  t.equal(seen[0]!.clockNow, 42, 'created with the client’s context (its clock)');
  await one.close();
  t.same(plugin.balancers(), [seen[1]], 'forgotten when its client closes');
  await two.close();
});

t.test("'named-only': only the name; the client's loadBalancer option selects it, sharing one balancer", async (t) => {
  const { server, address } = await startEchoServer('s');
  t.teardown(() => server.close({ graceMs: 100 }));
  const plain = balancerPlugin(META, 'counting', () => new CountingBalancer(0), { register: 'named-only' });
  const client = new RpcClient({ service: ECHO, addresses: [address] }).use(plain);
  await client.invoke('Echo', {});
  t.same(plain.balancers(), [], 'not selected: never created (round robin served the call)');
  await client.close();
  const named = balancerPlugin(META, 'counting', () => new CountingBalancer(0), { register: 'named-only' });
  const selecting = new RpcClient({ service: ECHO, addresses: [address], loadBalancer: 'counting' }).use(named);
  await selecting.invoke('Echo', {});
  await selecting.invoke('Echo', {});
  t.equal(named.balancers().length, 1);
  t.equal((named.balancers()[0] as CountingBalancer).picks, 2);
  await selecting.close();
});

t.test('bad register or onBalancer values throw ERR_INVALID_OPTION when the plugin is made', (t) => {
  t.throws(() => balancerPlugin(META, 'x', () => new CountingBalancer(0), { register: 'sometimes' as never }), { code: 'ERR_INVALID_OPTION', message: /"register"/ });
  t.throws(() => balancerPlugin(META, 'x', () => new CountingBalancer(0), { onBalancer: 1 as never }), { code: 'ERR_INVALID_OPTION', message: /"onBalancer"/ });
  t.end();
});
