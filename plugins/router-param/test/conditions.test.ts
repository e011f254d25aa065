import t from 'tap';
import type { Invocation } from '@trellis/core';
import { bucketOf, compileCondition, compileMatch, MAX_REGEX_INPUT, type Condition } from '../src/index.js';

/** Conditions read only `request` and `metadata` of a call. */
const call = (request: unknown, metadata: Record<string, string> = {}) => ({ request, metadata: new Map(Object.entries(metadata)) }) as unknown as Invocation;
const test = (condition: Condition, request: unknown, metadata?: Record<string, string>) => compileCondition(condition)(call(request, metadata));

t.test('equals and not-equals compare text: 42 and "42" are the same value', (t) => {
  t.equal(test({ field: 'id', op: 'equals', value: 42 }, { id: '42' }), true);
  t.equal(test({ field: 'id', op: 'equals', value: '42' }, { id: 42 }), true);
  t.equal(test({ field: 'id', op: 'equals', value: '42' }, { id: 43n }), false);
  t.equal(test({ field: 'vip', op: 'equals', value: true }, { vip: true }), true);
  t.equal(test({ field: 'id', op: 'equals', value: '42' }, { id: { low: 42, high: 0, toString: () => '42' } }), true, 'a protobufjs Long');
  t.equal(test({ field: 'id', op: 'equals', value: '42' }, {}), false);
  t.equal(test({ field: 'id', op: 'not-equals', value: '42' }, { id: '43' }), true);
  t.equal(test({ field: 'id', op: 'not-equals', value: '42' }, { id: '42' }), false);
  t.equal(test({ field: 'id', op: 'not-equals', value: '42' }, {}), false, 'an absent field matches no operator, negative ones included');
  t.equal(test({ field: 'user', op: 'equals', value: '[object Object]' }, { user: { id: 1 } }), false, 'messages are not values');
  t.equal(test({ field: 'ids', op: 'equals', value: '1' }, { ids: ['1'] }), false, 'lists are not values');
  t.end();
});

t.test('in and not-in', (t) => {
  const vip: Condition = { field: 'user.id', op: 'in', values: ['1001', 1002, '1003'] };
  t.equal(test(vip, { user: { id: 1002 } }), true);
  t.equal(test(vip, { user: { id: '1003' } }), true);
  t.equal(test(vip, { user: { id: '1004' } }), false);
  t.equal(test({ ...vip, op: 'not-in' }, { user: { id: '1004' } }), true);
  t.equal(test({ ...vip, op: 'not-in' }, { user: { id: '1001' } }), false);
  t.equal(test({ ...vip, op: 'not-in' }, { user: {} }), false);
  t.end();
});

t.test('prefix', (t) => {
  t.equal(test({ header: 'x-client', op: 'prefix', value: 'ios/' }, {}, { 'x-client': 'ios/17.2' }), true);
  t.equal(test({ header: 'x-client', op: 'prefix', value: 'ios/' }, {}, { 'x-client': 'android/14' }), false);
  t.equal(test({ header: 'x-client', op: 'prefix', value: 'ios/' }, {}), false);
  t.end();
});

t.test('regex: linear-time matching, bounded input', (t) => {
  const c: Condition = { field: 'message', op: 'regex', pattern: '^(gold|platinum)-\\d+$' };
  t.equal(test(c, { message: 'gold-17' }), true);
  t.equal(test(c, { message: 'silver-17' }), false);
  t.equal(test(c, { message: 'gold-17x' }), false);
  const any: Condition = { field: 'message', op: 'regex', pattern: 'a' };
  t.equal(test(any, { message: 'a'.repeat(MAX_REGEX_INPUT) }), true);
  t.equal(test(any, { message: 'a'.repeat(MAX_REGEX_INPUT + 1) }), false, `values longer than ${MAX_REGEX_INPUT} never match`);
  t.equal(test({ field: 'message', op: 'regex', pattern: '(a+)+$' }, { message: `${'a'.repeat(1000)}!` }), false, 'a catastrophic pattern for backtracking engines returns');
  t.end();
});

t.test('range: min ≤ x < max on numbers and numeric text', (t) => {
  const c: Condition = { field: 'age', op: 'range', min: 18, max: 65 };
  t.equal(test(c, { age: 18 }), true);
  t.equal(test(c, { age: '64.5' }), true);
  t.equal(test(c, { age: 65 }), false);
  t.equal(test(c, { age: 17 }), false);
  t.equal(test(c, { age: 'old' }), false);
  t.equal(test(c, { age: '' }), false, 'empty text is not 0');
  t.equal(test({ field: 'age', op: 'range', min: 100 }, { age: '9007199254740993' }), true, 'open-ended');
  t.equal(test({ field: 'age', op: 'range', max: 0 }, { age: -1 }), true);
  t.end();
});

t.test('percent: a stable slice by hash, nested for growing percentages', (t) => {
  const ten: Condition = { field: 'user.id', op: 'percent', percent: 10 };
  const thirty: Condition = { field: 'user.id', op: 'percent', percent: 30 };
  const users = Array.from({ length: 20_000 }, (_, i) => String(i + 1));
  const inTen = users.filter((id) => test(ten, { user: { id } }));
  const inThirty = users.filter((id) => test(thirty, { user: { id } }));
  t.equal(inTen.length, users.filter((id) => bucketOf(id) < 1000).length, 'exactly the users whose bucket is below 1000');
  t.ok(Math.abs(inTen.length - 2000) < 150, `about 10 % (${inTen.length} of 20000)`);
  t.ok(inTen.every((id) => inThirty.includes(id)), 'the 10 % slice lies inside the 30 % slice (same salt)');
  t.same(users.filter((id) => test(ten, { user: { id } })), inTen, 'the same users every time');
  const salted = users.filter((id) => test({ ...ten, salt: 'exp-2' }, { user: { id } }));
  t.ok(salted.filter((id) => inTen.includes(id)).length < 400, 'another salt draws another slice');
  t.equal(test({ field: 'user.id', op: 'percent', percent: 100 }, { user: { id: 'x' } }), true);
  t.equal(test({ field: 'user.id', op: 'percent', percent: 0 }, { user: { id: 'x' } }), false);
  t.equal(test({ field: 'user.id', op: 'percent', percent: 100 }, { user: { id: '' } }), false, 'an empty id is no user');
  const fine = users.filter((id) => test({ field: 'user.id', op: 'percent', percent: 0.05 }, { user: { id } }));
  t.same(fine, users.filter((id) => bucketOf(id) < 5), '0.01 % resolution');
  t.end();
});

t.test('headers are read from call metadata, case-insensitively by key', (t) => {
  t.equal(test({ header: 'X-Lane', op: 'equals', value: 'gray' }, {}, { 'x-lane': 'gray' }), true);
  t.equal(test({ header: 'x-lane', op: 'in', values: ['gray', 'canary'] }, {}, { 'x-lane': 'blue' }), false);
  t.end();
});

t.test('a match holds when all its conditions hold; no conditions always hold', (t) => {
  const both = compileMatch([{ header: 'x-lane', op: 'equals', value: 'gray' }, { field: 'user.id', op: 'prefix', value: '10' }]);
  t.equal(both(call({ user: { id: '1001' } }, { 'x-lane': 'gray' })), true);
  t.equal(both(call({ user: { id: '2001' } }, { 'x-lane': 'gray' })), false);
  t.equal(both(call({ user: { id: '1001' } })), false);
  t.equal(compileMatch(undefined)(call({})), true);
  t.equal(compileMatch([])(call({})), true);
  t.end();
});
