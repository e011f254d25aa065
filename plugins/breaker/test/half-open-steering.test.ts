import t from 'tap';
import { Code, RpcClient, type Endpoint, type LoadBalancer, type Pick } from '@trellis/core';
import { loadEchoService, testEndpoint, testInvocation } from '@trellis/testkit';
import { breaker, type BreakerEvent } from '../src/index.js';
import { BreakerConfig } from '../src/breaker-config.js';
import { CircuitSet } from '../src/circuit-set.js';
import { EndpointBreaker } from '../src/endpoint-breaker.js';
import { Outcome } from '../src/failure-codes.js';
import { FakeClock, SkippingClock } from './fixtures/clocks.js';
import { cluster, echo } from './fixtures/providers.js';

const ECHO = loadEchoService();

/** Picks `preferred` whenever the list holds it: a balancer that learned to favour, or avoid, one endpoint. */
class PreferringBalancer implements LoadBalancer {
  readonly name = 'preferring';
  preferred = '';
  pick(list: readonly Endpoint[]): Pick | undefined {
    const endpoint = list.find((e) => e.id === this.preferred) ?? list[0];
    return endpoint === undefined ? undefined : { endpoint, done() {} };
  }
}

t.test('a half-open endpoint gets its probes although the balancer avoids it; other calls never land on it while a probe runs', async (t) => {
  const { registry, providers: [a, b] } = await cluster(t, ['a', 'b']);
  const clock = new SkippingClock();
  const balancer = new PreferringBalancer();
  const events: BreakerEvent[] = [];
  const client = new RpcClient({
    service: ECHO,
    registry,
    loadBalancer: balancer,
    plugins: [breaker({ clock, method: false, coolDownMs: 60_000, maxCoolDownMs: 600_000, onStateChange: (e) => events.push(e) })],
  });
  t.teardown(() => client.close());
  await client.waitForReady({ timeoutMs: 10_000, minEndpoints: 2 });

  balancer.preferred = b!.id;
  b!.behave({ failures: 1, period: 1 });
  for (let i = 0; i < 5; i++) t.equal(await echo(client), 'error:UNAVAILABLE');
  t.match(events, [{ key: b!.id, to: 'open', reason: '5 calls in a row failed' }]);

  // The balancer now avoids b (as LALB or P2C would after its failures): left to it, b would
  // never be probed and would stay half-open for good.
  balancer.preferred = a!.id;
  b!.behave('healthy');
  clock.skip(60_000);
  const probes = [await echo(client), await echo(client), await echo(client)];
  t.same(probes, ['b', 'b', 'b'], 'the three probe calls were steered to b');
  t.same(events.slice(1).map((e) => `${e.from}→${e.to}: ${e.reason}`), ['open→half-open: cool-down of 60 s is over', 'half-open→closed: 3 probe calls succeeded']);
  t.equal(await echo(client), 'a', 'closed: the balancer decides again');

  // Tripped again; this time the balancer keeps choosing b. While b's probe is in flight, every
  // other call goes to a: nothing beyond the probe lands on the half-open endpoint.
  balancer.preferred = b!.id;
  b!.behave({ failures: 1, period: 1 });
  for (let i = 0; i < 5; i++) await echo(client);
  t.equal(events.at(-1)?.to, 'open');
  b!.behave('healthy');
  clock.skip(events.at(-1)!.coolDownMs);
  const parked = b!.holdNext();
  const probe = echo(client);
  await parked.reached;
  const before = b!.calls.total;
  const others = await Promise.all(Array.from({ length: 10 }, () => echo(client)));
  t.same(new Set(others), new Set(['a']), 'every call made while the probe ran went to a');
  t.equal(b!.calls.total, before, 'b got nothing beyond its probe');
  parked.release();
  t.equal(await probe, 'b');
  t.same([await echo(client), await echo(client)], ['b', 'b'], 'the remaining probes, one after another');
  t.equal(events.at(-1)?.to, 'closed');
});

t.test('a retry is not steered back to a half-open endpoint it already tried', async (t) => {
  const clock = new FakeClock();
  const set = new CircuitSet('default/x', 'endpoint', () => {});
  const config = new BreakerConfig({ coolDownMs: 100 }, undefined);
  const router = new EndpointBreaker(set, config, clock);
  const list = Object.freeze([testEndpoint('127.0.0.1:1'), testEndpoint('127.0.0.1:2')]);
  const tripped = (id: string) => {
    const circuit = set.get(id, config.current.endpoint!);
    for (let i = 0; i < 5; i++) circuit.onResult(clock.now(), circuit.acquire(clock.now()), Outcome.FAILURE, 0);
  };
  tripped('127.0.0.1:1');
  clock.advance(100); // 1 half-open, its probe slot free
  const retry = (excluded: string[]) => testInvocation({ excluded });
  t.same(router.route(list, retry([])).map((e) => e.id), ['127.0.0.1:1'], 'a first attempt is its probe');
  t.same(router.route(list, retry(['127.0.0.1:1'])).map((e) => e.id), ['127.0.0.1:2'], 'a retry that tried it goes elsewhere');
  tripped('127.0.0.1:2');
  t.throws(() => router.route(list, retry(['127.0.0.1:1'])), {
    code: Code.UNAVAILABLE,
    message: 'circuit open for every provider this call has not tried yet of default/x: 127.0.0.1:2 (open, half-open in 100 ms)',
  });
});
