import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { Invocation } from '@trellis/core';
import { loadStartupRules } from '@trellis/rules';
import { PARAM_RULES, paramRouter } from '../src/index.js';

t.test('the README’s full example is a valid routes document and means what it says', (t) => {
  const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
  const yaml = /```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
  t.ok(yaml, 'the README has a YAML example');
  t.doesNotThrow(() => paramRouter({ rules: yaml! }));
  const { compiled, version } = loadStartupRules('@trellis/router-param', PARAM_RULES, { rules: yaml! }, 'routes');
  t.equal(version, '2026-11-27.2');
  const call = (request: unknown, metadata: Record<string, string> = {}) => ({ request, metadata: new Map(Object.entries(metadata)) }) as unknown as Invocation;
  const decides = (inv: Invocation) => compiled.rules.find((r) => r.applies(inv))?.name;
  t.equal(decides(call({ user: { id: '5' } }, { 'x-lane': 'canary' })), 'lane-by-header');
  t.equal(decides(call({ user: { id: 'vip-7' } })), 'gray-listed-users');
  const gold = { customer: { tier: 'gold', region: 'eu-west', email: 'a@acme.com' }, cart: { totalCents: 25_000 } };
  t.equal(decides(call(gold, { 'x-client': 'web' })), 'gold-tier-eu');
  t.equal(decides(call(gold)), 'everyone-else', 'without the header the not-equals condition does not hold');
  t.equal(decides(call({ ...gold, customer: { ...gold.customer, email: 'a@acme.com.evil' } }, { 'x-client': 'web' })), 'everyone-else', 'the regex is anchored at the end');
  t.equal(decides(call(gold, { 'x-client': 'legacy-app' })), 'everyone-else');
  t.end();
});
