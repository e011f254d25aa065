import t from 'tap';
import { PENALTY, PeakEwma } from '../src/index.js';

t.test('a slower answer replaces the estimate at once (the peak)', (t) => {
  const m = new PeakEwma(10_000, 0);
  m.observe(1, 2);
  t.equal(m.latencyMs(1), 2, 'the first answer is the estimate');
  m.observe(2, 50);
  t.equal(m.latencyMs(2), 50);
  t.end();
});

t.test('a faster answer moves it by the weight of the time since the last update', (t) => {
  const m = new PeakEwma(1000, 0);
  m.observe(0, 10);
  m.observe(1000, 1); // one decay time later: the old estimate keeps 1/e of its weight
  const expected = 10 * Math.exp(-1) + 1 * (1 - Math.exp(-1));
  t.ok(Math.abs(m.latencyMs(1000) - expected) < 1e-9, `${m.latencyMs(1000)} ≈ ${expected}`);
  const quick = new PeakEwma(1000, 0);
  quick.observe(0, 10);
  quick.observe(1, 1); // a ms later the old estimate keeps almost all of its weight
  t.ok(quick.latencyMs(1) > 9.9, `a fast answer right after a slow one barely moves it: ${quick.latencyMs(1)}`);
  t.end();
});

t.test('between answers the estimate decays towards zero with the decay time', (t) => {
  const m = new PeakEwma(1000, 0);
  m.observe(0, 100);
  t.ok(Math.abs(m.latencyMs(1000) - 100 / Math.E) < 1e-9, 'after one decay time: 1/e');
  t.ok(Math.abs(m.latencyMs(3000) - 100 * Math.exp(-3)) < 1e-9, 'after three: e^-3, however often it is read');
  t.end();
});

t.test('cost = latency × (in flight + 1); unknown with a call out = the penalty', (t) => {
  const m = new PeakEwma(10_000, 0);
  t.equal(m.cost(0), 0, 'unknown and idle: free, so it gets its first probe at once');
  m.inFlight = 1;
  t.equal(m.cost(0), PENALTY + 1, 'unknown with a probe out: penalised until it answers');
  m.inFlight = 0;
  m.observe(0, 4);
  m.inFlight = 2;
  t.equal(m.cost(0), 12);
  const warm = new PeakEwma(10_000, 0, 30);
  t.equal(warm.latencyMs(0), 30, 'a start value is an estimate like any other');
  t.end();
});
