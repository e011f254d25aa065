import t from 'tap';
import { Code, RpcError, type Endpoint, type Invocation } from '@trellis/core';
import { checkPlugin } from '@trellis/core/spi';
import { RuleSet, loadStartupRules, type RuleSetState } from '@trellis/rules';
import { IP_RULES, IpRouter, ipRouter, type CompiledIpRules, type IpRule } from '../src/index.js';

const endpoint = (id: string): Endpoint => {
  const at = id.lastIndexOf(':');
  return { id, host: id.slice(0, at), port: Number(id.slice(at + 1)), weight: 100, version: '1.0.0', tags: {} };
};
const LIST = Object.freeze(['10.9.0.1:1', '10.9.0.2:1', '10.8.0.1:1', '10.8.0.2:2'].map(endpoint));
// The IP router reads nothing from the call: its outcome depends on the consumer and the list alone.
const CALL = {} as Invocation;

function compile(rules: readonly IpRule[]): RuleSetState<CompiledIpRules> {
  return loadStartupRules('@trellis/router-ip', IP_RULES, { rules }, 'routes');
}

function router(rules: readonly IpRule[], local: string): IpRouter {
  return new IpRouter(new RuleSet(compile(rules)), local);
}

const ids = (list: readonly Endpoint[]) => list.map((e) => e.id);

t.test('meta passes the kernel’s plugin check; client side only', (t) => {
  const plugin = ipRouter();
  t.equal(plugin.meta.name, '@trellis/router-ip');
  t.doesNotThrow(() => checkPlugin(plugin, 'client', new Set()));
  t.throws(() => checkPlugin(plugin, 'server', new Set()), { code: 'ERR_PLUGIN_INVALID' });
  t.end();
});

t.test('from: which consumers a rule applies to (allow- and deny-lists)', (t) => {
  const rules: IpRule[] = [{ name: 'batch', from: { allow: ['10.1.0.0/16'], deny: ['10.1.0.9'] }, to: ['10.8.0.0/16'] }];
  t.same(ids(router(rules, '10.1.3.4').route(LIST, CALL)), ['10.8.0.1:1', '10.8.0.2:2']);
  t.equal(router(rules, '10.1.0.9').route(LIST, CALL), LIST, 'denied consumer: the rule does not apply');
  t.equal(router(rules, '10.2.0.1').route(LIST, CALL), LIST, 'consumer outside the block');
  t.equal(router(rules, 'my-host').route(LIST, CALL), LIST, 'a consumer address that is no IP matches no block');
  t.same(router([{ name: 'list', from: ['10.1.0.0/16', '10.3.0.1'], to: ['10.8.0.1'] }], '10.3.0.1').route(LIST, CALL).map((e) => e.id), ['10.8.0.1:1']);
  t.same(router([{ name: 'all', to: ['10.9.0.0/16'] }], '1.2.3.4').applicableRules, ['all'], 'no from: every consumer');
  t.end();
});

t.test('to: allow-list, deny-list, both, and addresses with ports', (t) => {
  const local = '10.1.0.1';
  t.same(ids(router([{ name: 'r', to: { deny: ['10.9.0.0/16'] } }], local).route(LIST, CALL)), ['10.8.0.1:1', '10.8.0.2:2']);
  t.same(ids(router([{ name: 'r', to: { allow: ['10.8.0.0/16'], deny: ['10.8.0.2'] } }], local).route(LIST, CALL)), ['10.8.0.1:1']);
  t.same(ids(router([{ name: 'r', to: ['10.8.0.2:2', '10.9.0.1:2'] }], local).route(LIST, CALL)), ['10.8.0.2:2']);
  t.end();
});

t.test('the first applicable rule decides, in priority order', (t) => {
  const r = router([
    { name: 'late', to: ['10.9.0.0/16'] },
    { name: 'early', priority: -1, from: ['10.1.0.0/16'], to: ['10.8.0.0/16'] },
  ], '10.1.0.1');
  t.same(r.applicableRules, ['early', 'late']);
  t.same(ids(r.route(LIST, CALL)), ['10.8.0.1:1', '10.8.0.2:2']);
  t.end();
});

t.test('onEmpty: fail names the rule; next hands over; all keeps every endpoint', (t) => {
  const none = ['192.168.0.0/16'];
  const fail = router([{ name: 'isolate-batch', to: none }], '10.1.0.1');
  const error = (() => { try { fail.route(LIST, CALL); } catch (e) { return e as RpcError; } })();
  t.type(error, RpcError);
  t.equal(error?.code, Code.UNAVAILABLE);
  t.equal(error?.mayHaveRun, false, 'never ran: safe to report, nothing to undo');
  t.match(error?.message, /^route rule 'isolate-batch' selected no endpoint: none of the 4 endpoints \(10\.9\.0\.1:1, 10\.9\.0\.2:1, 10\.8\.0\.1:1, 10\.8\.0\.2:2\) passes "to" \(allow 192\.168\.0\.0\/16\) for consumer 10\.1\.0\.1$/);
  t.throws(() => fail.route(LIST, CALL), /isolate-batch/, 'cached verdicts still throw on every call');
  t.same(ids(router([{ name: 'a', to: none, onEmpty: 'next' }, { name: 'b', to: ['10.9.0.2'] }], '10.1.0.1').route(LIST, CALL)), ['10.9.0.2:1']);
  t.equal(router([{ name: 'a', to: none, onEmpty: 'next' }], '10.1.0.1').route(LIST, CALL), LIST, 'no rule left: as if none applied');
  t.equal(router([{ name: 'a', to: none, onEmpty: 'all' }, { name: 'b', to: ['10.9.0.2'] }], '10.1.0.1').route(LIST, CALL), LIST);
  t.end();
});

t.test('outputs are cached per input list and the input itself comes back when nothing is removed', (t) => {
  const r = router([{ name: 'r', to: ['10.8.0.0/16'] }], '10.1.0.1');
  const first = r.route(LIST, CALL);
  t.equal(r.route(LIST, CALL), first, 'same array for the same list');
  const other = Object.freeze(LIST.slice(0, 3));
  const second = r.route(other, CALL);
  t.same(ids(second), ['10.8.0.1:1']);
  t.equal(r.route(LIST, CALL), first, 'an older list still maps to its array');
  t.ok(Object.isFrozen(first));
  const keepAll = router([{ name: 'r', to: ['10.0.0.0/8'] }], '10.1.0.1');
  t.equal(keepAll.route(LIST, CALL), LIST);
  t.equal(router([], '10.1.0.1').route(LIST, CALL), LIST);
  t.end();
});

t.test('a swapped rule set takes effect on the next call', (t) => {
  const set = new RuleSet(compile([{ name: 'r', to: ['10.8.0.0/16'] }]));
  const r = new IpRouter(set, '10.1.0.1');
  t.same(ids(r.route(LIST, CALL)), ['10.8.0.1:1', '10.8.0.2:2']);
  set.swap({ ...compile([{ name: 'r', to: ['10.9.0.0/16'] }]), version: '2', origin: 'live' });
  t.same(ids(r.route(LIST, CALL)), ['10.9.0.1:1', '10.9.0.2:1']);
  set.swap(undefined);
  t.same(ids(r.route(LIST, CALL)), ['10.8.0.1:1', '10.8.0.2:2']);
  t.end();
});

t.test('invalid rules fail at ipRouter() naming the rule and the field', (t) => {
  const bad = (rules: unknown, message: RegExp | string) => t.throws(() => ipRouter({ rules: rules as IpRule[] }), { code: 'ERR_INVALID_OPTION', message });
  bad([{ name: 'a', to: ['db.internal'] }], /rule "a" field "to\[0\]": expected an IP address, a CIDR block/);
  bad([{ name: 'a', to: { allow: ['10.0.0.1', '10.0.0.0/33'] } }], /rule "a" field "to.allow\[1\]": prefix length \/33/);
  bad([{ name: 'a', from: ['10.1.0.5:80'], to: ['10.0.0.1'] }], /rule "a" field "from\[0\]": consumer addresses have no port; write "10.1.0.5"/);
  bad([{ name: 'a', to: {} }], /rule "a" field "to": needs "allow" or "deny" \(or both\)/);
  bad([{ name: 'a', to: [] }], /rule "a" field "to": must not be empty/);
  bad([{ name: 'a' }], /rule "a" field "to": required/);
  bad([{ name: 'a', to: ['10.0.0.1'], onEmpty: 'fallback' }], /rule "a" field "onEmpty": expected one of fail, next, all, got "fallback"/);
  bad([{ name: 'a', to: { allow: ['10.0.0.1'], alow: [] } }], /field "to.alow": unknown field \(did you mean "allow"\?\)/);
  bad('ip:\n  - name: y\n    to: 10.0.0.1\n', /rule "y" field "to": expected an array of strings or an object, got "10.0.0.1"/);
  t.end();
});
