import t from 'tap';
import { WORKER_SCENARIOS } from '../src/worker-scenarios.js';

// The worker-group scenarios in their short form, on a real etcd: a provider serving from 2 worker
// processes (RpcServer({ workers })) registered as one instance, under traffic with 30 % of the calls
// non-idempotent.
const options = { long: false, rate: 150, log: (line: string) => t.comment(line) };

t.test('rolling reload of a multi-worker provider: one instance in etcd, no call fails', async (t) => {
  const summary = await WORKER_SCENARIOS['9 rolling reload of a multi-worker provider']!(options);
  for (const note of summary.notes) t.comment(note);
  t.ok(summary.sent > 500, `${summary.sent} calls sent`);
  t.ok(summary.notes.includes("etcd lists 1 instance for the provider's 2 workers"), 'one instance registered for the group');
  t.equal(summary.failed, 0, `no call failed (${JSON.stringify(summary.failures)} ${summary.firstFailure ?? ''})`);
});

t.test('kill -9 of one worker: only non-idempotent calls in flight on it fail', async (t) => {
  const summary = await WORKER_SCENARIOS['10 kill -9 of one worker']!(options);
  for (const note of summary.notes) t.comment(note);
  t.ok(summary.sent > 500, `${summary.sent} calls sent`);
  t.match(summary.notes.find((n) => n.startsWith('failed:')), /, 0 Echo$/, 'no idempotent call failed');
  t.ok(summary.failed <= 10, `at most the Mutate calls in flight on the killed worker failed (${summary.failed})`);
  t.same(Object.keys(summary.failures).filter((code) => code !== 'UNAVAILABLE'), [], 'each failure is the dropped connection (UNAVAILABLE)');
  t.ok(summary.notes.includes('etcd lists 1 instance after the kill'), 'the group stayed registered as one instance');
});
