import t from 'tap';
import { shortClusterRun } from '../src/cluster-scenarios.js';

// The short cluster scenarios: per registry, one 3-member cluster with 3 providers and 3 consumers
// under steady traffic, its leader killed (a provider registering during the election), then one
// member cut off from its peers (a provider registering meanwhile). No call may fail, and every
// consumer must see both changes. `pnpm chaos --cluster` runs the long ones (rolling restart and the
// whole cluster down too).
// Attempts of 1 s instead of `pnpm chaos`'s 400 ms: on a loaded machine (at load 40 the providers'
// p99 reached 412 ms) attempts timed out broadly, and the breaker opened every provider's circuit.
// A frozen or dead provider still costs one attempt, and the call's 5 s deadline holds all four.
const options = { long: false, rate: 150, attemptTimeoutMs: 1000, log: (line: string) => t.comment(line) };

for (const kind of ['etcd', 'zookeeper'] as const) {
  t.test(`${kind} cluster: leader killed, then a member partitioned`, async (t) => {
    const summaries = await shortClusterRun(kind, options);
    for (const summary of summaries) {
      t.comment(JSON.stringify(summary));
      t.ok(summary.sent > 500, `${summary.scenario}: ${summary.sent} calls sent`);
      t.equal(summary.failed, 0, `${summary.scenario}: no call failed (${JSON.stringify(summary.failures)} ${summary.firstFailure ?? ''})`);
      t.ok(summary.changeSeenMs.length === 3 && summary.changeSeenMs.every((ms) => ms !== null), `${summary.scenario}: every consumer saw the provider registered during the fault`);
      for (const note of summary.notes) t.comment(note);
    }
  });
}
