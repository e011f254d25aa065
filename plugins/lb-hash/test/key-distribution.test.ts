/**
 * Where keys go, for both tables, measured through pick(): 100,000 keys, each picked and released at
 * once (nothing in flight, so bounded load never steps in and this is plain consistent hashing).
 */
import t from 'tap';
import type { Endpoint } from '@trellis/core';
import { testEndpoint, testInvocation } from '@trellis/testkit';
import { ConsistentHashBalancer, type HashAlgorithm } from '../src/index.js';

const KEYS = Array.from({ length: 100_000 }, (_, i) => `user-${i}`);
const endpoints = (n: number, from = 1): Endpoint[] => Array.from({ length: n }, (_, i) => testEndpoint(`10.0.0.${from + i}:7000`));

function owners(balancer: ConsistentHashBalancer, list: readonly Endpoint[]): string[] {
  return KEYS.map((key) => {
    const pick = balancer.pick(list, testInvocation({ request: { user: { id: key } } }))!;
    pick.done({ latencyMs: 1 });
    return pick.endpoint.id;
  });
}

function shares(ids: readonly string[], list: readonly Endpoint[]): number[] {
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return list.map((e) => (counts.get(e.id) ?? 0) / ids.length);
}

for (const algorithm of ['ring', 'maglev'] as HashAlgorithm[]) {
  t.test(`${algorithm}: from 10 to 11 endpoints, about 1/11 of the keys move, all to the new one`, (t) => {
    const balancer = new ConsistentHashBalancer({ field: 'user.id', algorithm });
    const ten = endpoints(10);
    const eleven = [...ten, testEndpoint('10.0.0.11:7000')];
    const before = owners(balancer, ten);
    const after = owners(balancer, eleven);
    let moved = 0;
    let movedElsewhere = 0;
    for (let i = 0; i < KEYS.length; i++) {
      if (before[i] === after[i]) continue;
      moved++;
      if (after[i] !== '10.0.0.11:7000') movedElsewhere++;
    }
    const fraction = moved / KEYS.length;
    t.ok(fraction <= 1 / 11 + 0.02, `${(fraction * 100).toFixed(2)} % of 100,000 keys moved (1/11 = 9.09 %; bound 11.09 %)`);
    t.ok(fraction >= 1 / 11 - 0.02, 'and the new endpoint did take its share');
    if (algorithm === 'ring') t.equal(movedElsewhere, 0, 'ring: every key that moved went to the new endpoint');
    else t.ok(movedElsewhere / KEYS.length < 0.01, `maglev: ${(movedElsewhere / KEYS.length * 100).toFixed(2)} % of keys moved between old endpoints (its known small extra disruption)`);
    t.end();
  });

  t.test(`${algorithm}: weights 1:2 split the keys 1/3 : 2/3 (within 3 %)`, (t) => {
    const balancer = new ConsistentHashBalancer({ field: 'user.id', algorithm });
    const list = [testEndpoint('10.0.0.1:7000', 100), testEndpoint('10.0.0.2:7000', 200)];
    const [light, heavy] = shares(owners(balancer, list), list);
    t.ok(Math.abs(light! - 1 / 3) <= 0.03, `weight 1: ${(light! * 100).toFixed(2)} % of the keys`);
    t.ok(Math.abs(heavy! - 2 / 3) <= 0.03, `weight 2: ${(heavy! * 100).toFixed(2)} % of the keys`);
    const snapshot = balancer.snapshot(list);
    t.ok(Math.abs(snapshot[0]!.keyShare - light!) < 0.01, `snapshot().keyShare agrees: ${(snapshot[0]!.keyShare * 100).toFixed(2)} %`);
    t.end();
  });

  t.test(`${algorithm}: ten equal endpoints get 10 % ± 2.5 % of the keys each`, (t) => {
    const balancer = new ConsistentHashBalancer({ field: 'user.id', algorithm });
    const list = endpoints(10);
    for (const [i, share] of shares(owners(balancer, list), list).entries()) {
      t.ok(Math.abs(share - 0.1) <= 0.025, `${list[i]!.id}: ${(share * 100).toFixed(2)} %`);
    }
    t.end();
  });

  t.test(`${algorithm}: every client maps a key to the same endpoint, whatever its list order`, (t) => {
    const list = endpoints(10);
    const one = owners(new ConsistentHashBalancer({ field: 'user.id', algorithm }), list);
    const other = owners(new ConsistentHashBalancer({ field: 'user.id', algorithm }), [...list].reverse());
    t.same(other, one);
    t.end();
  });
}
