import t from 'tap';
import { BAD_PEER_SCENARIOS } from '../src/bad-peer-scenarios.js';

// The bad-peer scenarios in their short form: raw sockets attack one provider while the consumer's
// traffic runs; the consumer must lose no call. (`pnpm chaos --long` runs them for a minute.)
// Attempts of 1 s instead of `pnpm chaos`'s 400 ms: on a loaded machine (at load 40 the providers'
// p99 reached 412 ms) attempts timed out broadly, and the breaker opened every provider's circuit.
// A frozen or dead provider still costs one attempt, and the call's 5 s deadline holds all four.
const options = { long: false, rate: 150, attemptTimeoutMs: 1000, log: (line: string) => t.comment(line) };

for (const [name, run] of Object.entries(BAD_PEER_SCENARIOS)) {
  t.test(name, async (t) => {
    const summary = await run(options);
    t.comment(JSON.stringify({ ...summary, notes: undefined }));
    for (const note of summary.notes) t.comment(note);
    t.ok(summary.sent > 500, `${summary.sent} calls sent`);
    t.equal(summary.failed, 0, `no call failed (${JSON.stringify(summary.failures)} ${summary.firstFailure ?? ''})`);
  });
}
