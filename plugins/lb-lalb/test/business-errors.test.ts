import t from 'tap';
import { Code, RpcError, notExecuted, type Pick } from '@trellis/core';
import { LocalityAwareBalancer } from '../src/index.js';
import { FakeClock, endpoint, invocation, rowOf, seeded } from './fixtures/sim.js';

// Issue #16 defect 3: LALB treated business errors as failures. One fast NOT_FOUND folded a
// full-timeout penalty into its provider (mean 998.7 ms against 2.0 ms, share 0 %), and with both
// providers answering NOT_FOUND for 10 % of requests LALB split 224 / 1.

const list = [endpoint('a:1'), endpoint('b:1')];

/** Serial calls, 2 ms each, with a 1 s deadline; `errorFor` decides each call's outcome by endpoint and index. */
function run(balancer: LocalityAwareBalancer, clock: FakeClock, calls: number, errorFor: (id: string, n: number) => RpcError | undefined) {
  const served = new Map<string, number>();
  const seen = new Map<string, number>();
  for (let i = 0; i < calls; i++) {
    const pick: Pick = balancer.pick(list, invocation({ deadline: clock.now() + 1000 }))!;
    const id = pick.endpoint.id;
    const n = seen.get(id) ?? 0;
    seen.set(id, n + 1);
    clock.advance(2);
    pick.done({ latencyMs: 2, error: errorFor(id, n) });
    served.set(id, (served.get(id) ?? 0) + 1);
  }
  return served;
}

/** The same seeded run with no error at all: business errors must not move traffic away from it. */
function baseline(seed: number, calls: number) {
  const clock = new FakeClock();
  const balancer = new LocalityAwareBalancer({ clock, random: seeded(seed) });
  return { balancer, served: run(balancer, clock, calls, () => undefined) };
}

t.test('one fast NOT_FOUND is an answer: no timeout penalty, no lost share', async (t) => {
  const clock = new FakeClock();
  const balancer = new LocalityAwareBalancer({ clock, random: seeded(3) });
  const served = run(balancer, clock, 400, (id, n) => (id === 'a:1' && n === 50 ? new RpcError(Code.NOT_FOUND, 'no such item') : undefined));
  const a = rowOf(balancer, 'a:1');
  t.ok(a.avgLatencyMs < 5, `a's mean latency stays a latency (${a.avgLatencyMs.toFixed(1)} ms)`);
  const same = baseline(3, 400);
  t.same(served, same.served, 'every pick as in the run without the NOT_FOUND');
  t.equal(a.share, rowOf(same.balancer, 'a:1').share, `a keeps its share (${(a.share * 100).toFixed(0)} %)`);
});

t.test('both providers answering NOT_FOUND for 10 % of requests: the split is the one without errors', async (t) => {
  // (Equal providers under serial calls do not split 50/50 in LALB; what matters here is that the
  // answers change nothing.)
  for (const seed of [1, 2, 5]) {
    const clock = new FakeClock();
    const balancer = new LocalityAwareBalancer({ clock, random: seeded(seed) });
    const served = run(balancer, clock, 2000, (_id, n) => (n % 10 === 0 ? new RpcError(Code.NOT_FOUND, 'no such item') : undefined));
    t.same(served, baseline(seed, 2000).served, `seed ${seed}: ${JSON.stringify([...served])}`);
  }
});

t.test('failures still cost the penalty; a refusal that never ran too; failureCodes changes the set', async (t) => {
  for (const [label, error] of [
    ['UNKNOWN', new RpcError(Code.UNKNOWN, 'boom')],
    ['RESOURCE_EXHAUSTED, never ran', notExecuted(Code.RESOURCE_EXHAUSTED, 'rate limited')],
  ] as const) {
    const clock = new FakeClock();
    const balancer = new LocalityAwareBalancer({ clock, random: seeded(7) });
    run(balancer, clock, 400, (id, n) => (id === 'a:1' && n % 2 === 0 ? error : undefined));
    t.ok(rowOf(balancer, 'a:1').share < 0.2, `${label}: a's share fell (${(rowOf(balancer, 'a:1').share * 100).toFixed(0)} %)`);
  }
  const clock = new FakeClock();
  const balancer = new LocalityAwareBalancer({ clock, random: seeded(7), failureCodes: ['NOT_FOUND', Code.UNAVAILABLE] });
  run(balancer, clock, 400, (id, n) => (id === 'a:1' && n % 2 === 0 ? new RpcError(Code.NOT_FOUND, 'gone') : undefined));
  t.ok(rowOf(balancer, 'a:1').share < 0.2, 'with NOT_FOUND listed, it is penalised again');
  t.throws(() => new LocalityAwareBalancer({ failureCodes: ['NOPE'] as never }), { code: 'ERR_INVALID_OPTION', message: /lalb option "failureCodes\[0\]" is "NOPE"/ });
});
