import t from 'tap';
import { SCENARIOS } from '../src/scenarios.js';

// The short variant of the fault suite: scenarios 1–4 must lose no call. (`pnpm chaos --long` runs
// each for minutes; scenarios 5 and 6 report figures and run there.)
const options = { long: false, rate: 150, log: (line: string) => t.comment(line) };

for (const name of Object.keys(SCENARIOS).filter((n) => /^[1-4] /.test(n))) {
  t.test(name, async (t) => {
    const summary = await SCENARIOS[name]!(options);
    t.comment(JSON.stringify(summary));
    t.ok(summary.sent > 500, `${summary.sent} calls sent`);
    t.equal(summary.failed, 0, `no call failed (${JSON.stringify(summary.failures)} ${summary.firstFailure ?? ''})`);
    for (const note of summary.notes) t.comment(note);
  });
}
