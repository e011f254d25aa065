import t from 'tap';
import { BRPC_EXACT_OPTIONS, LocalityAwareBalancer } from '../src/index.js';
import { FastRandom } from '../src/fast-random.js';
import { FakeClock, countPicks, endpoint, invocation, trainEqualRate } from './fixtures/sim.js';

/**
 * LALB's default dice (FastRandom, xoshiro128**) replaced `Math.random`, which allocated a heap
 * number per pick. These check that it is the published generator and that picks still follow the
 * weights as they did.
 */

t.test('FastRandom is xoshiro128**: the reference outputs from the state 1, 2, 3, 4', (t) => {
  const random = new FastRandom([1, 2, 3, 4]);
  // The generator's 32-bit outputs 11520, 0, 5927040, 70819200, 2031721883, 1637235492,
  // 1287239034, 3734860849 (reference C code), without their two low bits.
  const expected = [2880, 0, 1481760, 17704800, 507930470, 409308873, 321809758, 933715212];
  t.same(expected.map(() => random.next30()), expected);
  t.end();
});

t.test('fractions are in [0, 1) and uniform (64 buckets, chi-square)', (t) => {
  const random = new FastRandom([0x9e3779b9, 0x243f6a88, 0x85a308d3, 0x13198a2e]);
  const buckets = new Array<number>(64).fill(0);
  const n = 640_000;
  let outside = 0;
  for (let i = 0; i < n; i++) {
    const x = random.fraction();
    if (!(x >= 0 && x < 1)) outside++;
    else buckets[Math.floor(x * 64)]!++;
  }
  t.equal(outside, 0, 'no fraction outside [0, 1)');
  const expected = n / 64;
  const chiSquare = buckets.reduce((sum, count) => sum + (count - expected) ** 2 / expected, 0);
  // 63 degrees of freedom: the mean is 63, and 130 is exceeded with a probability below 1e-6.
  t.ok(chiSquare < 130, `chi-square ${chiSquare.toFixed(1)} < 130`);
  t.end();
});

t.test('an all-zero seed does not stick at zero', (t) => {
  const random = new FastRandom([0, 0, 0, 0]);
  let nonZero = 0;
  for (let i = 0; i < 100; i++) if (random.next30() !== 0) nonZero++;
  t.ok(nonZero > 90, `${nonZero} of 100 draws non-zero`);
  t.end();
});

t.test('with the default dice, picks follow the weights (1/2/3 ms at equal qps: 6:3:2)', (t) => {
  const clock = new FakeClock();
  const balancer = new LocalityAwareBalancer({ clock, ...BRPC_EXACT_OPTIONS });
  const list = [endpoint('a:1'), endpoint('b:1'), endpoint('c:1')];
  trainEqualRate(balancer, clock, list, { 'a:1': 1, 'b:1': 2, 'c:1': 3 }, 130, 10);
  const n = 60_000;
  const counts = countPicks(balancer, list, n);
  const share = (id: string): number => counts.get(id)! / n;
  t.ok(Math.abs(share('a:1') - 6 / 11) < 0.01, `a: ${share('a:1').toFixed(4)} ≈ 0.5455`);
  t.ok(Math.abs(share('b:1') - 3 / 11) < 0.01, `b: ${share('b:1').toFixed(4)} ≈ 0.2727`);
  t.ok(Math.abs(share('c:1') - 2 / 11) < 0.01, `c: ${share('c:1').toFixed(4)} ≈ 0.1818`);
  t.end();
});

t.test('with the default dice, retries still land only on endpoints not excluded, evenly', (t) => {
  const clock = new FakeClock();
  const balancer = new LocalityAwareBalancer({ clock, ...BRPC_EXACT_OPTIONS });
  const list = [endpoint('a:1'), endpoint('b:1'), endpoint('c:1'), endpoint('d:1')];
  const n = 40_000;
  const counts = countPicks(balancer, list, n, invocation({ excluded: ['a:1'] }));
  t.equal(counts.get('a:1'), 0, 'the excluded endpoint is never picked');
  for (const id of ['b:1', 'c:1', 'd:1']) {
    const share = counts.get(id)! / n;
    t.ok(Math.abs(share - 1 / 3) < 0.015, `${id}: ${share.toFixed(4)} ≈ 1/3`);
  }
  t.end();
});

t.test('each balancer seeds its own dice: two draw different sequences', (t) => {
  const list = [endpoint('a:1'), endpoint('b:1'), endpoint('c:1')];
  const sequence = (): string => {
    const balancer = new LocalityAwareBalancer({ clock: new FakeClock(), ...BRPC_EXACT_OPTIONS });
    return Array.from({ length: 64 }, () => balancer.pick(list, invocation())!.endpoint.id).join(',');
  };
  // Equal weights: the same 64 picks by chance has a probability of 3^-63.
  t.not(sequence(), sequence());
  t.end();
});
