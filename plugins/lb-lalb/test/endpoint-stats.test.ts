import t from 'tap';
import { WEIGHT_SCALE } from '../src/constants.js';
import { EndpointStats, errorLatencyUs } from '../src/endpoint-stats.js';
import { LatencyRing } from '../src/latency-ring.js';

const params = { windowSize: 128, minWeight: 1000, punishInflightRatio: 1.5, maxSampleAgeUs: Number.POSITIVE_INFINITY, rateExponent: 1 };

/** `count` successful calls of `latencyUs`, one every `periodUs`, the first ending at `startUs`. */
function feed(stats: EndpointStats, count: number, latencyUs: number, periodUs: number, startUs = 1_000_000): number {
  let end = startUs;
  for (let i = 0; i < count; i++, end += periodUs) stats.recordSuccess(latencyUs, end);
  return end - periodUs;
}

t.test('a new endpoint holds its initial weight until it has samples', (t) => {
  const stats = new EndpointStats(12345, params);
  t.equal(stats.weight, 12345);
  t.equal(stats.baseWeight, 12345);
  t.equal(stats.resetWeight(1e9), 12345, 'no latency yet, so no in-flight punishment either');
  t.end();
});

t.test('base weight = qps × WEIGHT_SCALE / avg latency, qps measured once full or spanning 1 s', (t) => {
  const stats = new EndpointStats(WEIGHT_SCALE, params);
  stats.recordSuccess(1000, 1_000_000);
  t.equal(stats.avgLatencyUs, 1000, 'one sample: its latency');
  t.equal(stats.baseWeight, Math.floor(WEIGHT_SCALE / 1000), 'qps defaults to 1');

  // 100 calls 10 ms apart span 990 ms: not full, under a second, so still the default qps.
  const stats2 = new EndpointStats(WEIGHT_SCALE, params);
  feed(stats2, 100, 1000, 10_000);
  t.equal(stats2.qps, 1);
  t.equal(stats2.baseWeight, Math.floor(WEIGHT_SCALE / 1000));
  // The 101st spans exactly 1 s: 100 intervals in 1 s is 100 qps.
  stats2.recordSuccess(1000, 1_000_000 + 100 * 10_000);
  t.equal(stats2.qps, 100);
  t.equal(stats2.baseWeight, Math.floor((100 * WEIGHT_SCALE) / 1000));

  // A full window measures the rate at once: 127 intervals of 1 ms is 1000 qps.
  const stats3 = new EndpointStats(WEIGHT_SCALE, params);
  feed(stats3, 128, 2000, 1000);
  t.equal(stats3.qps, 1000);
  t.equal(stats3.avgLatencyUs, 2000);
  t.equal(stats3.baseWeight, Math.floor((1000 * WEIGHT_SCALE) / 2000));
  t.end();
});

t.test('the window keeps the last 128 calls', (t) => {
  const stats = new EndpointStats(WEIGHT_SCALE, params);
  const end = feed(stats, 300, 5000, 1000);
  t.equal(stats.samples, 128);
  feed(stats, 127, 1000, 1000, end + 1000);
  t.equal(stats.avgLatencyUs, 1000, 'the 127 newest calls are averaged; the oldest slot only opens the window');
  t.end();
});

t.test('qps never drops below 1', (t) => {
  const stats = new EndpointStats(WEIGHT_SCALE, params);
  stats.recordSuccess(1000, 0);
  stats.recordSuccess(1000, 10_000_000); // 1 call in 10 s = 0.1 qps
  t.equal(stats.qps, 1);
  t.end();
});

t.test('in-flight punishment starts at avg latency × 1.5 and not before', (t) => {
  const stats = new EndpointStats(WEIGHT_SCALE, params);
  const end = feed(stats, 128, 10_000, 20_000); // avg 10 ms
  const base = stats.baseWeight;
  t.equal(stats.avgLatencyUs, 10_000);
  const begin = end + 1000;
  stats.addInflight(begin);
  t.equal(stats.resetWeight(begin + 5_000), base, 'a call younger than the average is no signal');
  t.equal(stats.resetWeight(begin + 14_999), base, 'just under 1.5 × avg: untouched');
  t.equal(stats.resetWeight(begin + 15_000), base, 'at 1.5 × avg the factor is 15/15');
  t.ok(stats.resetWeight(begin + 15_001) < base, 'past 1.5 × avg: punished');
  t.equal(stats.resetWeight(begin + 30_000), Math.floor((base * 15_000) / 30_000), 'base × 1.5·avg / delay');
  t.equal(stats.resetWeight(begin + 60_000), Math.floor((base * 15_000) / 60_000));
  // The delay is the mean age: a fresh call halves it.
  stats.addInflight(begin + 30_000);
  t.equal(stats.inflightDelayUs(begin + 30_000), 15_000);
  t.equal(stats.resetWeight(begin + 30_000), base, 'mean age 15 ms: back at the threshold');
  stats.removeInflight(begin);
  stats.removeInflight(begin + 30_000);
  t.equal(stats.inflight, 0);
  t.equal(stats.resetWeight(begin + 1e9), base, 'nothing in flight: nothing to punish');
  t.end();
});

t.test('the floor keeps a very slow endpoint above zero', (t) => {
  const stats = new EndpointStats(WEIGHT_SCALE, params);
  stats.recordSuccess(10_000_000, 1_000_000); // 10 s
  t.equal(stats.baseWeight, Math.floor(WEIGHT_SCALE / 10_000_000), 'base is ~100');
  t.equal(stats.resetWeight(1_000_000), 1000, 'weight is brpc min_weight');
  stats.addInflight(1_000_000);
  t.equal(stats.resetWeight(1_000_000 + 3600e6), 1000, 'an hour-old call cannot push it lower');
  t.end();
});

t.test('errors fold into the newest sample: latency up, qps down, no new sample', (t) => {
  const stats = new EndpointStats(WEIGHT_SCALE, params);
  const end = feed(stats, 128, 1000, 1000);
  const before = { avg: stats.avgLatencyUs, qps: stats.qps, base: stats.baseWeight, samples: stats.samples };
  t.ok(stats.recordError(2000, 500_000, end + 1000));
  t.equal(stats.samples, before.samples, 'no sample added');
  t.equal(stats.avgLatencyUs, Math.floor((127 * 1000 + 2000) / 127), 'the error latency is added to the sum');
  t.ok(stats.qps < before.qps, `qps fell (${before.qps} → ${stats.qps}): the window got longer, not fuller`);
  t.ok(stats.baseWeight < before.base);
  t.end();
});

t.test('a first call that fails counts as at least a timeout', (t) => {
  const stats = new EndpointStats(WEIGHT_SCALE, params);
  stats.recordError(1200, 500_000, 1_000_000);
  t.equal(stats.avgLatencyUs, 500_000);
  t.end();
});

t.test('error latency mixes latency × 1.2 and the timeout by retries left and done', (t) => {
  const lat = 10_000;
  const timeout = 1_000_000;
  t.equal(errorLatencyUs(lat, timeout, 0, 0, 1.2), timeout, 'no retries: a whole timeout');
  t.equal(errorLatencyUs(lat, timeout, 0, 2, 1.2), 12_000, 'first of three tries: latency × 1.2');
  t.equal(errorLatencyUs(lat, timeout, 1, 2, 1.2), (12_000 + timeout) / 2, 'second try: half and half');
  t.equal(errorLatencyUs(lat, timeout, 2, 2, 1.2), timeout, 'last try: a whole timeout');
  t.equal(errorLatencyUs(lat, timeout, 5, 2, 1.2), timeout, 'more tries than allowed: still a timeout');
  t.end();
});

t.test('capBaseWeight only lowers', (t) => {
  const stats = new EndpointStats(5000, params);
  t.notOk(stats.capBaseWeight(6000));
  t.equal(stats.baseWeight, 5000);
  t.ok(stats.capBaseWeight(3000));
  t.equal(stats.baseWeight, 3000);
  t.end();
});

t.test('ring prefix sums stay exact over a long run', (t) => {
  const ring = new LatencyRing(4);
  const latency = 2 ** 40;
  for (let i = 0; i < 5000; i++) ring.push(latency, i);
  t.equal(ring.newestLatencySum - ring.oldestLatencySum, 3 * latency);
  t.ok(ring.newestLatencySum < 2 ** 53);
  ring.foldIntoNewest(7, 6000);
  t.equal(ring.newestLatencySum - ring.oldestLatencySum, 3 * latency + 7);
  t.equal(ring.newestEndUs, 6000);
  t.equal(ring.oldestEndUs, 4996);
  t.end();
});
