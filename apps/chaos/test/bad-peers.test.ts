import t from 'tap';
import { BAD_PEER_SCENARIOS } from '../src/bad-peer-scenarios.js';

// The bad-peer scenarios in their short form: raw sockets attack one provider while the consumer's
// traffic runs; the consumer must lose no call. (`pnpm chaos --long` runs them for a minute.)
const options = { long: false, rate: 150, log: (line: string) => t.comment(line) };

for (const [name, run] of Object.entries(BAD_PEER_SCENARIOS)) {
  t.test(name, async (t) => {
    const summary = await run(options);
    t.comment(JSON.stringify({ ...summary, notes: undefined }));
    for (const note of summary.notes) t.comment(note);
    t.ok(summary.sent > 500, `${summary.sent} calls sent`);
    t.equal(summary.failed, 0, `no call failed (${JSON.stringify(summary.failures)} ${summary.firstFailure ?? ''})`);
  });
}
