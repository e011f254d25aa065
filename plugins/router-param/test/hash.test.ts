import t from 'tap';
import * as rules from '@trellis/rules';
import { BUCKETS, bucketOf, compileFieldPath, fnv1a32, mix32, parseFieldPath } from '../src/index.js';

// FNV-1a and field paths are tested in @trellis/rules, where they live now; the buckets are router-param's.

t.test('the hash and field-path functions moved to @trellis/rules are still exported from here', (t) => {
  t.equal(fnv1a32, rules.fnv1a32);
  t.equal(mix32, rules.mix32);
  t.equal(compileFieldPath, rules.compileFieldPath);
  t.equal(parseFieldPath, rules.parseFieldPath);
  t.end();
});

/** Reference FNV-1a over the real UTF-8 bytes. */
function reference(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) hash = Math.imul(hash ^ byte, 0x01000193);
  return hash >>> 0;
}

t.test('buckets are stable numbers other languages can reproduce', (t) => {
  // Pinned (and checked with an independent Python implementation): changing the hash would silently
  // move users between versions in a running gray release.
  t.same(['1', '42', '1001', 'user-7'].map((v) => bucketOf(v)), ['1', '42', '1001', 'user-7'].map((v) => mix32(reference(v)) % BUCKETS));
  t.same(['1', '42', '1001', 'user-7'].map((v) => bucketOf(v)), [5071, 6589, 8170, 1318]);
  t.equal(bucketOf('42', 'gray-2026'), mix32(reference('gray-2026:42')) % BUCKETS, 'the salt is prefixed with ":"');
  t.equal(bucketOf('42', 'gray-2026'), 6603);
  t.not(bucketOf('42', 'gray-2026'), bucketOf('42'));
  t.end();
});

t.test('sequential ids spread evenly over the buckets', (t) => {
  const counts = new Array<number>(10).fill(0);
  for (let id = 1; id <= 100_000; id++) counts[Math.floor(bucketOf(String(id)) / 1000)]!++;
  // Each tenth should hold 10 000 ± 3 % (the expected deviation is ~95).
  for (const [i, n] of counts.entries()) t.ok(Math.abs(n - 10_000) < 300, `tenth ${i}: ${n}`);
  t.end();
});
