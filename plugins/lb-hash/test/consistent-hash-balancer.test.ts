import t from 'tap';
import { Code, type Endpoint } from '@trellis/core';
import { seededRandom, testEndpoint, testInvocation } from '@trellis/testkit';
import { ConsistentHashBalancer, type HashAlgorithm } from '../src/index.js';

const LIST: Endpoint[] = Array.from({ length: 8 }, (_, i) => testEndpoint(`10.0.2.${i + 1}:7000`));
const target = (balancer: ConsistentHashBalancer, fields: Parameters<typeof testInvocation>[0], list = LIST) => {
  const pick = balancer.pick(list, testInvocation(fields))!;
  pick.done({ latencyMs: 1 });
  return pick.endpoint.id;
};

t.test('the key: a request field, a metadata key, or a function — each read as one text', (t) => {
  const byField = new ConsistentHashBalancer({ field: 'user.id' });
  const byHeader = new ConsistentHashBalancer({ header: 'X-Session' });
  const byFunction = new ConsistentHashBalancer({ key: (inv) => (inv.request as { user: { id: number } }).user.id });
  const ids = Array.from({ length: 200 }, (_, i) => 1000 + i);
  const viaField = ids.map((id) => target(byField, { request: { user: { id } } }));
  t.same(ids.map((id) => target(byField, { request: { user: { id: String(id) } } })), viaField, '42 and "42" are one key');
  t.same(ids.map((id) => target(byField, { request: { user: { id: { low: id, high: 0, toString: () => String(id) } } } })), viaField, 'a protobufjs Long is its decimal text');
  t.same(ids.map((id) => target(byHeader, { metadata: { 'x-session': String(id) } })), viaField, 'a metadata key (lower-cased) hashes the same text the same way');
  t.same(ids.map((id) => target(byFunction, { request: { user: { id } } })), viaField, 'and so does a function’s result');
  t.ok(new Set(viaField).size >= 6, `200 keys reach ${new Set(viaField).size} of the 8 endpoints`);
  t.same(ids.map((id) => target(byField, { request: { user: { id } } })), viaField, 'the same key, the same endpoint, every time');
  t.end();
});

t.test('a call without a key goes to a random endpoint, or fails with onMissingKey: fail', (t) => {
  const spread = new ConsistentHashBalancer({ field: 'user.id', random: seededRandom(3) });
  const seen = new Set<string>();
  for (let i = 0; i < 400; i++) seen.add(target(spread, { request: {} }));
  for (let i = 0; i < 400; i++) seen.add(target(spread, { request: { user: { id: '' } } }));
  t.equal(seen.size, LIST.length, 'keyless calls (absent or empty) spread over every endpoint');
  const strict = new ConsistentHashBalancer({ field: 'user.id', onMissingKey: 'fail' });
  t.throws(() => strict.pick(LIST, testInvocation({ request: { user: {} } })), {
    code: Code.INVALID_ARGUMENT,
    mayHaveRun: false,
    message: /no hash key \(the request field "user.id" gave nothing\)/,
  });
  t.end();
});

for (const algorithm of ['ring', 'maglev'] as HashAlgorithm[]) {
  t.test(`${algorithm}: a retry walks on from the key, skipping excluded endpoints, the same way every time`, (t) => {
    const balancer = new ConsistentHashBalancer({ field: 'id', algorithm, boundedLoad: false });
    for (let k = 0; k < 50; k++) {
      const request = { id: `key-${k}` };
      const first = target(balancer, { request });
      const second = target(balancer, { request, excluded: [first] });
      const third = target(balancer, { request, excluded: [first, second] });
      t.not(second, first);
      t.not(third, first);
      t.not(third, second);
      t.equal(target(balancer, { request, excluded: [first] }), second, 'the same retry, the same endpoint');
    }
    const all = LIST.map((e) => e.id);
    t.equal(balancer.pick(LIST, testInvocation({ request: { id: 'x' }, excluded: all })), undefined, 'every endpoint excluded: no pick');
    t.equal(balancer.pick([], testInvocation({ request: { id: 'x' } })), undefined, 'an empty list: no pick');
    t.end();
  });
}

t.test('weight 0: no keys while others have weight; all zero: hashed alike', (t) => {
  const balancer = new ConsistentHashBalancer({ field: 'id' });
  const list = [testEndpoint('a:1', 0), testEndpoint('b:1', 100), testEndpoint('c:1', 100)];
  const owners = new Set(Array.from({ length: 300 }, (_, i) => target(balancer, { request: { id: i } }, list)));
  t.same([...owners].sort(), ['b:1', 'c:1']);
  t.equal(target(balancer, { request: { id: 1 }, excluded: ['b:1', 'c:1'] }, list), 'a:1', 'unless it is all a retry has left');
  const zeros = [testEndpoint('a:1', 0), testEndpoint('b:1', 0)];
  const spread = new Set(Array.from({ length: 100 }, (_, i) => target(balancer, { request: { id: i } }, zeros)));
  t.equal(spread.size, 2);
  t.end();
});

t.test('a list is prepared once: the same array, or a new array of the same endpoints', (t) => {
  const balancer = new ConsistentHashBalancer({ field: 'id' });
  const first = target(balancer, { request: { id: 'k' } });
  const held = balancer.pick(LIST, testInvocation({ request: { id: 'k' } }))!;
  const copy = [...LIST];
  t.equal(balancer.snapshot(LIST).find((r) => r.id === held.endpoint.id)!.inFlight, 1);
  balancer.pick(copy, testInvocation({ request: { id: 'other' } }))!.done({ latencyMs: 1 });
  t.equal(balancer.snapshot(copy).find((r) => r.id === held.endpoint.id)!.inFlight, 1, 'an equal new array keeps the in-flight counts');
  held.done({ latencyMs: 1 });
  held.done({ latencyMs: 1 });
  t.equal(balancer.snapshot(copy).find((r) => r.id === held.endpoint.id)!.inFlight, 0, 'done() twice does not go below zero');
  t.equal(target(balancer, { request: { id: 'k' } }, copy), first);
  t.end();
});

t.test('options are validated with ERR_INVALID_OPTION', (t) => {
  const bad: [unknown, RegExp][] = [
    [{}, /exactly one of them/],
    [{ field: 'a', header: 'b' }, /exactly one of them/],
    [{ field: 'user..id' }, /option "field".*not a field path/],
    [{ field: 'user.__proto__' }, /"__proto__" cannot be a field name/],
    [{ header: 'x session' }, /option "header"/],
    [{ key: 'user.id' }, /option "key"/],
    [{ field: 'id', algorithm: 'rendezvous' }, /option "algorithm"/],
    [{ field: 'id', virtualNodes: 0 }, /option "virtualNodes"/],
    [{ field: 'id', algorithm: 'maglev', tableSize: 65536 }, /option "tableSize".*a prime/],
    [{ field: 'id', boundedLoad: { epsilon: 0 } }, /boundedLoad.epsilon/],
    [{ field: 'id', boundedLoad: true }, /option "boundedLoad"/],
    [{ field: 'id', onMissingKey: 'ignore' }, /option "onMissingKey"/],
    [null, /option "options"/],
  ];
  for (const [options, message] of bad) {
    t.throws(() => new ConsistentHashBalancer(options as never), { code: 'ERR_INVALID_OPTION', message }, JSON.stringify(options));
  }
  t.doesNotThrow(() => new ConsistentHashBalancer({ field: 'id', algorithm: 'maglev', tableSize: 251, boundedLoad: false }));
  t.end();
});
