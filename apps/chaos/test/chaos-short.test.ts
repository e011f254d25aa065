import t from 'tap';
import { SCENARIOS } from '../src/scenarios.js';

// The short variant of the fault suite: scenarios 1–4 must lose no call. (`pnpm chaos --long` runs
// each for minutes; scenarios 5 and 6 report figures and run there.)
// Attempts of 1 s instead of `pnpm chaos`'s 400 ms: on a loaded machine (at load 40 the providers'
// p99 reached 412 ms) attempts timed out broadly, and the breaker opened every provider's circuit.
// A frozen or dead provider still costs one attempt, and the call's 5 s deadline holds all four.
const options = { long: false, rate: 150, attemptTimeoutMs: 1000, log: (line: string) => t.comment(line) };

for (const name of Object.keys(SCENARIOS).filter((n) => /^[1-4] /.test(n))) {
  t.test(name, async (t) => {
    const summary = await SCENARIOS[name]!(options);
    t.comment(JSON.stringify(summary));
    t.ok(summary.sent > 500, `${summary.sent} calls sent`);
    t.equal(summary.failed, 0, `no call failed (${JSON.stringify(summary.failures)} ${summary.firstFailure ?? ''})`);
    for (const note of summary.notes) t.comment(note);
  });
}
