import t from 'tap';
import { Code, RpcError, type Endpoint, type Invocation } from '@trellis/core';
import { checkPlugin } from '@trellis/core/spi';
import { RuleSet, loadStartupRules } from '@trellis/rules';
import { PARAM_RULES, ParamRouter, paramRouter, type ParamRule } from '../src/index.js';

const endpoint = (id: string, tags: Record<string, string>): Endpoint => ({ id, host: '10.0.0.1', port: Number(id.slice(1)), weight: 100, version: '1.0.0', tags });
const LIST: readonly Endpoint[] = Object.freeze([
  endpoint('p1', { version: 'v1' }),
  endpoint('p2', { version: 'v1', lane: 'blue' }),
  endpoint('p3', { version: 'v2', lane: 'gray' }),
]);
const call = (request: unknown, metadata: Record<string, string> = {}) => ({ request, metadata: new Map(Object.entries(metadata)) }) as unknown as Invocation;
const compile = (rules: readonly ParamRule[]) => loadStartupRules('@trellis/router-param', PARAM_RULES, { rules }, 'routes');
const router = (rules: readonly ParamRule[]) => new ParamRouter(new RuleSet(compile(rules)));
const ids = (list: readonly Endpoint[]) => list.map((e) => e.id);

const GRAY: ParamRule[] = [
  { name: 'gray-listed', match: [{ field: 'user.id', op: 'in', values: ['7', '8'] }], target: { version: 'v2' } },
  { name: 'gray-10-percent', match: [{ field: 'user.id', op: 'percent', percent: 10 }], target: { version: 'v2' } },
  { name: 'stable', target: { version: 'v1' } },
];

t.test('meta passes the kernel’s plugin check; client side only', (t) => {
  const plugin = paramRouter();
  t.equal(plugin.meta.name, '@trellis/router-param');
  t.doesNotThrow(() => checkPlugin(plugin, 'client', new Set()));
  t.throws(() => checkPlugin(plugin, 'server', new Set()), { code: 'ERR_PLUGIN_INVALID' });
  t.end();
});

t.test('the first rule whose conditions hold sends the call to its target', (t) => {
  const r = router(GRAY);
  t.same(ids(r.route(LIST, call({ user: { id: '7' } }))), ['p3'], 'listed user');
  t.same(ids(r.route(LIST, call({ user: { id: '1' } }))), ['p1', 'p2'], 'user 1 is outside the 10 % slice');
  t.same(ids(r.route(LIST, call({}))), ['p1', 'p2'], 'no user id: only the catch-all matches');
  t.end();
});

t.test('targets: several tags must all match; a list of values matches any', (t) => {
  t.same(ids(router([{ name: 'r', target: { version: 'v1', lane: 'blue' } }]).route(LIST, call({}))), ['p2']);
  t.same(ids(router([{ name: 'r', target: { lane: ['blue', 'gray'] } }]).route(LIST, call({}))), ['p2', 'p3']);
  t.equal(router([{ name: 'r', target: {} }]).route(LIST, call({})), LIST, 'an empty target keeps everything');
  t.end();
});

t.test('no rule applies: the list passes unchanged', (t) => {
  const r = router([{ name: 'lane', match: [{ header: 'x-lane', op: 'equals', value: 'gray' }], target: { lane: 'gray' } }]);
  t.equal(r.route(LIST, call({})), LIST);
  t.same(ids(r.route(LIST, call({}, { 'x-lane': 'gray' }))), ['p3']);
  t.equal(router([]).route(LIST, call({})), LIST);
  t.end();
});

t.test('onEmpty: fail names the rule; next and all fall back', (t) => {
  const v3 = { version: 'v3' };
  const failing = router([{ name: 'v3-only', target: v3 }]);
  const error = (() => { try { failing.route(LIST, call({})); } catch (e) { return e as RpcError; } })();
  t.type(error, RpcError);
  t.equal(error?.code, Code.UNAVAILABLE);
  t.equal(error?.mayHaveRun, false);
  t.equal(error?.message, "route rule 'v3-only' selected no endpoint: none of the 3 endpoints (p1 {version=v1}; p2 {version=v1, lane=blue}; p3 {version=v2, lane=gray}) has the target tags version=v3");
  t.same(ids(router([{ name: 'a', target: v3, onEmpty: 'next' }, { name: 'b', target: { lane: 'gray' } }]).route(LIST, call({}))), ['p3'], 'next: the following rule decides');
  t.equal(router([{ name: 'a', target: v3, onEmpty: 'next' }]).route(LIST, call({})), LIST, 'next with no rule left: all endpoints');
  t.equal(router([{ name: 'a', target: v3, onEmpty: 'all' }, { name: 'b', target: { lane: 'gray' } }]).route(LIST, call({})), LIST, 'all: every endpoint, later rules unused');
  t.throws(() => router([{ name: 'empty', target: v3 }]).route([], call({})), /route rule 'empty' selected no endpoint: none of the 0 endpoints has/);
  t.end();
});

t.test('narrowed lists are cached per (input list, target) and survive an update that keeps the target', (t) => {
  const set = new RuleSet(compile(GRAY));
  const r = new ParamRouter(set);
  const v2 = r.route(LIST, call({ user: { id: '7' } }));
  const v1 = r.route(LIST, call({ user: { id: '1' } }));
  t.equal(r.route(LIST, call({ user: { id: '8' } })), v2, 'two rules with the same target share one array');
  t.equal(r.route(LIST, call({ user: { id: '2' } })), v1);
  t.ok(Object.isFrozen(v2));
  const shorter = Object.freeze(LIST.slice(1));
  t.same(ids(r.route(shorter, call({ user: { id: '1' } }))), ['p2']);
  t.equal(r.route(LIST, call({ user: { id: '1' } })), v1, 'an earlier input still maps to its array');
  set.swap({ ...compile([{ name: 'renamed', match: [{ field: 'user.id', op: 'equals', value: '9' }], target: { version: 'v2' } }]), version: '2', origin: 'live' });
  t.equal(r.route(LIST, call({ user: { id: '9' } })), v2, 'same target after an update: same array, balancer state kept');
  t.equal(r.route(LIST, call({ user: { id: '7' } })), LIST, 'the old list rule is gone');
  t.end();
});

t.test('invalid rules fail at paramRouter() naming the rule and the field', (t) => {
  const bad = (rules: unknown, message: RegExp | string) => t.throws(() => paramRouter({ rules: rules as ParamRule[] }), { code: 'ERR_INVALID_OPTION', message });
  bad([{ name: 'gray-users', match: [{ field: 'user.id', op: 'eq', value: 1 }], target: { version: 'v2' } }],
    '@trellis/router-param option "rules" holds invalid rules: rule "gray-users" field "match[0].op": expected one of equals, not-equals, in, not-in, prefix, regex, range, percent, got "eq"');
  bad([{ name: 'r', match: [{ field: 'user.id', op: 'in' }], target: {} }], /rule "r" field "match\[0\].values": required when op is "in"/);
  bad([{ name: 'r', match: [{ field: 'user..id', op: 'equals', value: 1 }], target: {} }], /field "match\[0\].field": "user..id" is not a field path/);
  bad([{ name: 'r', match: [{ field: 'constructor', op: 'equals', value: 1 }], target: {} }], /"constructor" cannot be a field name/);
  bad([{ name: 'r', match: [{ field: 'a', header: 'b', op: 'equals', value: 1 }], target: {} }], /field "match\[0\]": needs only one of "field" or "header"/);
  bad([{ name: 'r', match: [{ header: 'x lane', op: 'equals', value: 1 }], target: {} }], /field "match\[0\].header": a metadata key has only letters/);
  bad([{ name: 'r', match: [{ field: 'a', op: 'regex', pattern: '(\\w+)\\1' }], target: {} }], /field "match\[0\].pattern": backreferences \(\\1\) are not supported .*patterns are matched in linear time/);
  bad([{ name: 'r', match: [{ field: 'a', op: 'range' }], target: {} }], /field "match\[0\]": a range needs "min" or "max"/);
  bad([{ name: 'r', match: [{ field: 'a', op: 'range', min: 5, max: 5 }], target: {} }], /"min" \(5\) must be below "max" \(5\)/);
  bad([{ name: 'r', match: [{ field: 'a', op: 'percent', percent: 101 }], target: {} }], /field "match\[0\].percent": must be ≤ 100, got 101/);
  bad([{ name: 'r', match: [{ field: 'a', op: 'percent', percent: 10.001 }], target: {} }], /has a resolution of 0.01, got 10.001/);
  bad([{ name: 'r', target: { version: 2 } }], /field "target.version": expected a string or an array of strings, got 2/);
  bad([{ name: 'r', target: { version: 'v2' }, onEmpty: 'fallback' }], /field "onEmpty": expected one of fail, next, all/);
  bad([{ name: 'r', match: [{ field: 'a', op: 'equals', value: 1 }] }], /rule "r" field "target": required/);
  bad('param:\n  - name: r\n    target: { version: v2 }\n    mtch: []\n', /rule "r" field "mtch": unknown field \(did you mean "match"\?\)/);
  t.end();
});
