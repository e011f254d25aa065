import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import t from 'tap';

// The generated decoder builds its result with a constructor and its lists with `Array()`, not with
// literals, so V8 has no allocation site to pretenure: a burst of decoded requests all alive at one
// scavenge (a server holding its batch) must not make every later request old. With literals, a
// Trellis server @256 promoted 2.5 MB per scavenge and spent 40–44 % of its busy time in GC
// (docs/performance.md, "GC on Trellis servers, session 11"). Asked of V8 itself, in a child process
// with the young generation at its maximum size from the start (where a literal's site is tenured).
t.test('decoded messages stay in the young generation after bursts that were all alive at a scavenge', async (t) => {
  const child = path.join(__dirname, 'fixtures', 'pretenure-child.js');
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--expose-gc', '--min-semi-space-size=16', child], { encoding: 'utf8' });
  const seen = JSON.parse(out) as { request: boolean; values: boolean; sameAsSent: boolean };
  t.ok(seen.sameAsSent, 'the decoded request is the one encoded');
  t.ok(seen.request, 'a freshly decoded request is young');
  t.ok(seen.values, 'its repeated field\'s list is young');
});
