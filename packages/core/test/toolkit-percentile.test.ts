import t from 'tap';
import { median, percentile, percentileOfSorted, percentiles } from '@trellis/core/toolkit';

t.test('nearest rank: the sample at rank ⌈p/100 · n⌉', async (t) => {
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
  t.equal(percentile(hundred, 99), 99, 'p99 of 100 samples is the 99th, not the maximum');
  t.equal(percentile(hundred, 50), 50);
  t.equal(percentile(hundred, 100), 100);
  t.equal(percentile(hundred, 0), 1, 'p0 is the minimum');
  t.equal(percentile(hundred, 99.5), 100, 'a rank between two samples rounds up');
  t.equal(percentile([1, 2], 50), 1, 'p50 of two samples is the lower one');
  t.equal(percentile([7], 99), 7);
});

t.test('always an observed value, never an interpolation', async (t) => {
  const samples = [2, 2, 2, 900];
  for (const p of [1, 25, 50, 74, 75, 76, 99, 100]) t.ok(samples.includes(percentile(samples, p)), `p${p} is a sample`);
  t.equal(percentile(samples, 75), 2);
  t.equal(percentile(samples, 76), 900);
});

t.test('unsorted input is sorted numerically and left untouched', async (t) => {
  const values = [10, 9, 100, 1];
  t.equal(percentile(values, 100), 100, 'numeric order, not string order (100 > 9)');
  t.equal(percentile(values, 25), 1);
  t.same(values, [10, 9, 100, 1]);
  t.same(percentiles(values, [25, 50, 75, 100]), [1, 9, 10, 100]);
  t.equal(percentileOfSorted(Float64Array.from(values).sort(), 50), 9);
});

t.test('empty input is NaN; a percentile outside 0..100 is refused', async (t) => {
  t.ok(Number.isNaN(percentile([], 50)));
  t.ok(Number.isNaN(median([])));
  t.throws(() => percentile([1], 101), RangeError);
  t.throws(() => percentile([1], -1), RangeError);
  t.throws(() => percentile([1], Number.NaN), RangeError);
});

t.test('median of rounds: the mean of the two middle values when n is even', async (t) => {
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([4, 1, 3, 2]), 2.5);
});
