import t from 'tap';
import { fnv1a32, mix32, stableHash32 } from '../src/index.js';

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

t.test('a hash continues from another: fnv1a32(b, fnv1a32(a)) = fnv1a32(a + b)', (t) => {
  // (Each text is encoded on its own: a surrogate pair split between a and b is two U+FFFD.)
  for (const [a, b] of [['10.0.0.1:7000#', '159'], ['', 'x'], ['用户', '-1001'], ['a😀', 'b😀']]) {
    t.equal(fnv1a32(b!, fnv1a32(a!)), fnv1a32(a! + b!), JSON.stringify([a, b]));
  }
  t.end();
});

t.test('hashes the UTF-8 bytes: non-ASCII, astral characters and lone surrogates', (t) => {
  for (const text of ['é', 'ü-42', '用户-1001', '😀', 'a😀b', 'x\ud800y', '\udc00', 'end\ud83d']) {
    t.equal(fnv1a32(text), reference(text), JSON.stringify(text));
  }
  t.end();
});

t.test('stableHash32 is mix32 of FNV-1a, pinned: other processes and languages must agree', (t) => {
  for (const text of ['1', '42', 'user-7', '10.0.0.1:7000#0']) t.equal(stableHash32(text), mix32(reference(text)), text);
  // Pinned: changing these would move keys between endpoints (lb-hash) and users between versions
  // (router-param's percent buckets) in running systems.
  t.same(['1', '42', 'user-7'].map(stableHash32), [1428125071, 686566589, 4289841318], 'checked with an independent Python implementation');
  t.end();
});

t.test('the high and the low 16 bits are both uniform over sequential ids', (t) => {
  const high = new Array<number>(16).fill(0);
  const low = new Array<number>(16).fill(0);
  for (let id = 1; id <= 160_000; id++) {
    const h = stableHash32(String(id));
    high[h >>> 28]!++;
    low[h & 15]!++;
  }
  // 10 000 per sixteenth ± 4 % (the expected deviation is ~97).
  for (let i = 0; i < 16; i++) {
    t.ok(Math.abs(high[i]! - 10_000) < 400, `top bits ${i}: ${high[i]}`);
    t.ok(Math.abs(low[i]! - 10_000) < 400, `bottom bits ${i}: ${low[i]}`);
  }
  t.end();
});
