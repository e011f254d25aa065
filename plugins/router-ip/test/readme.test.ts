import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { loadStartupRules } from '@trellis/rules';
import { IP_RULES, ipRouter } from '../src/index.js';

t.test('the README’s full example is a valid routes document', (t) => {
  const readme = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');
  const yaml = /```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
  t.ok(yaml, 'the README has a YAML example');
  t.doesNotThrow(() => ipRouter({ rules: yaml! }));
  const state = loadStartupRules('@trellis/router-ip', IP_RULES, { rules: yaml! }, 'routes');
  t.same(state.compiled.rules.map((r) => [r.name, r.onEmpty]), [['batch-to-batch-pool', 'fail'], ['group-b', 'fail'], ['online-off-batch', 'all']]);
  t.equal(state.version, '2026-11-27.1');
  t.end();
});
