import t from 'tap';
import { LastHitMap } from '@trellis/core/toolkit';

t.test('reads like a Map: found, absent, replaced', async (t) => {
  const map = new LastHitMap<string, number>();
  t.equal(map.get('a'), undefined, 'absent before anything is set');
  t.notOk(map.has('a'));
  map.set('a', 1).set('b', 2);
  t.equal(map.size, 2);
  t.equal(map.get('a'), 1);
  t.equal(map.get('b'), 2);
  t.equal(map.get('b'), 2, 'the same key twice in a row (the remembered entry)');
  t.equal(map.get('a'), 1, 'another key after it');
  t.ok(map.has('a'));
  t.notOk(map.has('c'));
  map.set('a', 10);
  t.equal(map.get('a'), 10, 'a replaced value is the one found');
  map.set('b', 20);
  t.equal(map.get('a'), 10, 'replacing another key leaves this one');
  t.equal(map.get('b'), 20);
});

t.test('a miss is not remembered: a key set afterwards is found', async (t) => {
  const map = new LastHitMap<string, number>();
  map.set('a', 1);
  t.equal(map.get('x'), undefined);
  t.equal(map.get('x'), undefined, 'still absent');
  t.equal(map.get('a'), 1, 'the earlier entry is still found');
  map.set('x', 5);
  t.equal(map.get('x'), 5);
});

t.test('delete forgets the remembered entry: no stale hit', async (t) => {
  const map = new LastHitMap<string, { id: string }>();
  const a = { id: 'a' };
  map.set('a', a);
  t.equal(map.get('a'), a, 'remembered');
  t.ok(map.delete('a'));
  t.equal(map.get('a'), undefined, 'gone after delete, though it was the entry looked up last');
  t.notOk(map.has('a'));
  t.equal(map.size, 0);
  t.notOk(map.delete('a'), 'deleting again finds nothing');
  const again = { id: 'a' };
  map.set('a', again);
  t.equal(map.get('a'), again, 'a new value under the same key is the one found');
});

t.test('deleting another key keeps the remembered entry right', async (t) => {
  const map = new LastHitMap<string, number>();
  map.set('a', 1).set('b', 2);
  t.equal(map.get('a'), 1);
  t.ok(map.delete('b'));
  t.equal(map.get('a'), 1);
  t.equal(map.get('b'), undefined);
});

t.test('clear forgets the remembered entry', async (t) => {
  const map = new LastHitMap<object, string>();
  const key = {};
  map.set(key, 'v');
  t.equal(map.get(key), 'v');
  map.clear();
  t.equal(map.get(key), undefined, 'gone after clear');
  t.notOk(map.has(key));
  t.equal(map.size, 0);
});

t.test('deleting while iterating, as a Map allows', async (t) => {
  const map = new LastHitMap<string, number>();
  for (const [key, value] of [['a', 1], ['b', 2], ['c', 3]] as const) map.set(key, value);
  t.equal(map.get('b'), 2);
  for (const [key] of map) if (key !== 'c') map.delete(key);
  t.same([...map.keys()], ['c']);
  t.same([...map.values()], [3]);
  t.same([...map.entries()], [['c', 3]]);
  t.equal(map.get('b'), undefined, 'the remembered entry was among the deleted ones');
  t.equal(map.get('a'), undefined);
  t.equal(map.get('c'), 3);
});

t.test('null is a value like any other', async (t) => {
  const map = new LastHitMap<string, number | null>();
  map.set('none', null);
  t.equal(map.get('none'), null);
  t.equal(map.get('none'), null, 'remembered');
  t.ok(map.has('none'));
  map.delete('none');
  t.equal(map.get('none'), undefined);
});

t.test('object keys are told apart by identity', async (t) => {
  const map = new LastHitMap<{ name: string }, number>();
  const one = { name: 'm' };
  const two = { name: 'm' };
  map.set(one, 1);
  t.equal(map.get(one), 1);
  t.equal(map.get(two), undefined, 'an equal-looking key is another key');
  map.set(two, 2);
  t.equal(map.get(one), 1);
  t.equal(map.get(two), 2);
});

t.test('NaN keys are found (the Map compares them as equal)', async (t) => {
  const map = new LastHitMap<number, string>();
  map.set(Number.NaN, 'nan');
  t.equal(map.get(Number.NaN), 'nan');
  t.equal(map.get(Number.NaN), 'nan');
  t.ok(map.delete(Number.NaN));
  t.equal(map.get(Number.NaN), undefined);
});
