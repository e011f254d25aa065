import t from 'tap';
import { BUCKETS, bucketOf, fnv1a32, mix32 } from '../src/index.js';

/** Reference FNV-1a over the real UTF-8 bytes, to check the on-the-fly encoder. */
function reference(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) hash = Math.imul(hash ^ byte, 0x01000193);
  return hash >>> 0;
}

t.test('FNV-1a 32 matches the published test vectors', (t) => {
  t.equal(fnv1a32(''), 0x811c9dc5);
  t.equal(fnv1a32('a'), 0xe40c292c);
  t.equal(fnv1a32('foobar'), 0xbf9cf968);
  t.end();
});

t.test('hashes the UTF-8 bytes: non-ASCII, astral characters and lone surrogates', (t) => {
  for (const text of ['é', 'ü-42', '用户-1001', '😀', 'a😀b', 'x\ud800y', '\udc00', 'end\ud83d']) {
    t.equal(fnv1a32(text), reference(text), JSON.stringify(text));
  }
  t.end();
});

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
