import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { InterceptorOrder, RouterOrder, ServerInterceptorOrder } from '@trellis/core/spi';
import { WORKSPACE_ROOT } from '../src/index.js';

// READMEs quote the kernel's pipeline slots with their numbers ("`RouterOrder.BREAKER` (400, …"): each
// quoted number must be the constant's value in the code.
const CONSTANTS: Record<string, Readonly<Record<string, number>>> = { InterceptorOrder, RouterOrder, ServerInterceptorOrder };
const QUOTED = /`(\w+Order)\.([A-Z_]+)` \((\d+)/g;

t.test('every order quoted in the docs is the one in the code', async (t) => {
  const markdown = execFileSync('git', ['ls-files', '*.md'], { cwd: WORKSPACE_ROOT, encoding: 'utf8' }).split('\n').filter(Boolean);
  let quoted = 0;
  for (const file of markdown) {
    const text = readFileSync(join(WORKSPACE_ROOT, file), 'utf8');
    for (const [, group, name, value] of text.matchAll(QUOTED)) {
      quoted++;
      const actual = CONSTANTS[group!]?.[name!];
      t.equal(Number(value), actual, `${file}: ${group}.${name} is ${actual}`);
    }
  }
  t.ok(quoted >= 3, `${quoted} quoted orders found`);
});
