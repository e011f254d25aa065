import t from 'tap';
import { WORKER_SCENARIOS } from '../src/worker-scenarios.js';

// The worker-group scenarios in their short form, on a real etcd: a provider serving from 2 worker
// processes (RpcServer({ workers })) registered as one instance, under traffic with 30 % of the calls
// non-idempotent.
// Attempts of 1 s instead of `pnpm chaos`'s 400 ms: on a loaded machine (at load 40 the providers'
// p99 reached 412 ms) attempts timed out broadly, and the breaker opened every provider's circuit.
// A frozen or dead provider still costs one attempt, and the call's 5 s deadline holds all four.
const options = { long: false, rate: 150, attemptTimeoutMs: 1000, log: (line: string) => t.comment(line) };

t.test('rolling reload of a multi-worker provider: one instance in etcd, no call fails', async (t) => {
  const summary = await WORKER_SCENARIOS['9 rolling reload of a multi-worker provider']!(options);
  for (const note of summary.notes) t.comment(note);
  t.ok(summary.sent > 500, `${summary.sent} calls sent`);
  t.ok(summary.notes.includes("etcd lists 1 instance for the provider's 2 workers"), 'one instance registered for the group');
  t.equal(summary.failed, 0, `no call failed (${JSON.stringify(summary.failures)} ${summary.firstFailure ?? ''})`);
});

t.test('kill -9 of one worker: the group stays one instance, the worker is replaced, calls recover at once', async (t) => {
  const summary = await WORKER_SCENARIOS['10 kill -9 of one worker']!(options);
  for (const note of summary.notes) t.comment(note);
  t.ok(summary.sent > 500, `${summary.sent} calls sent`);
  t.ok(summary.notes.includes('etcd lists 1 instance after the kill'), 'the group stayed registered as one instance');
  // Only calls that may have run on the killed worker fail, and only non-idempotent ones: an Echo in
  // flight there is retried on the group's other connections (the same endpoint: the kernel's
  // transparent re-send and retry's fallback), and a Mutate that never ran is re-sent transparently.
  const tally = summary.notes.map((n) => /^failed: (\d+) Mutate .*; (\d+) that never ran\), (\d+) Echo$/.exec(n)).find(Boolean);
  t.ok(tally, 'the scenario tallied the failures');
  const [, mutate, mutateNeverRan, echo] = tally!.map(Number);
  t.equal(echo, 0, `no idempotent call failed${echo ? `: ${summary.notes.filter((n) => n.startsWith('Echo failed')).join('; ')}` : ''}`);
  t.equal(mutateNeverRan, 0, 'no non-idempotent call that never ran failed');
  t.equal(summary.failed, mutate, 'every failure is a Mutate that may have run on the killed worker');
  // From the kill to the last failure it caused: the last send that failed on a dropped connection,
  // or that never ran, or a call that failed so (the consumer's send log sees every attempt and
  // every transparent re-send). Calls whose only failed sends were answered late (an attempt
  // timeout) are a slow process's doing, not the kill's, and do not count: the former measure (the
  // run of failed or retried calls, until a clean second) counted a call a loaded machine answered
  // past the attempt timeout as the kill's when it came within a second of the last one: a chain of
  // such chance calls is how this check could fail on a loaded machine (it did once in CI). Within 3 s of the kill, or 1 s of the replacement
  // worker being ready when forking it took longer (at load 36 it did). Still fails if the kill's
  // failures go on once the group is whole again: a dead worker's connections still being picked
  // (sends that fail at once or never run), a circuit left open (calls refused before any send).
  const replaced = summary.notes.map((n) => /^replacement worker ready (\d+) ms after the kill$/.exec(n)).find(Boolean);
  t.ok(replaced, 'the scenario noted when the replacement worker was ready');
  t.ok(summary.hits, 'the scenario told the calls the kill hit');
  const bound = Math.max(3000, Number(replaced?.[1]) + 1000);
  const hits = summary.hits!;
  t.ok(hits.untilMs < bound, `calls recovered within ${bound} ms of the kill (the last failure it caused ${Math.round(hits.untilMs)} ms after it, ${hits.calls} calls hit; last retry or failure of the run ${Math.round(summary.recoverMs)} ms after it)`);
});
