import t from 'tap';
import type { ProviderProcess } from '@trellis/testkit';
import { waitFor } from '@trellis/testkit';
import { Code } from '@trellis/core';
import { retry } from '../src/index.js';
import {
  attemptLog, echoClient, percentile, rateLimited, settle, startProviders, startServer, type EchoCall, type LoggedAttempt,
} from './fixtures/echo.js';

/** The slow provider's answer time, and a p99 bound below it that a call without a winning backup cannot meet. */
const SLOW_MS = 4000;
const BELOW_SLOW_MS = SLOW_MS - 400;

/** Runs `count` calls, `concurrency` at a time; returns each call's latency in ms. */
async function latencies(count: number, concurrency: number, call: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  let started = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (started < count) {
      started++;
      const at = performance.now();
      await call();
      out.push(performance.now() - at);
    }
  }));
  return out;
}

async function sumAttempt(providers: readonly ProviderProcess[], attempt: string): Promise<number> {
  return (await Promise.all(providers.map((p) => p.stats()))).reduce((n, s) => n + (s.attempts[attempt] ?? 0), 0);
}

t.test('backup requests with one slow provider', async (t) => {
  // The slow provider takes 4 s: the p99 bounds below sit at 3.6 s, below what every call without a
  // winning backup waits (its latency is at least the provider's delay: stalls only add), and 3.5 s
  // above a backup's 30 ms for a stalled CI machine (a backup stretched to 564 ms at load 30 came
  // close to the 800 ms bound this test had with a 1 s slow provider; it was 2 s and 1.6 s since).
  const [slow] = await startProviders(t, ['slow'], { delayMs: SLOW_MS });
  const fast = await startProviders(t, ['fast1', 'fast2']);
  const addresses = [slow!.address, ...fast.map((p) => p.address)];

  t.test('a backup after 30 ms cuts p99, and the losing attempt is cancelled on the server', async (t) => {
    const baseline = echoClient(t, addresses, { plugins: [retry()] }).stub;
    const without = await latencies(30, 10, () => baseline.echo({}));
    t.ok(percentile(without, 99) >= SLOW_MS, `without backups p99 is the slow provider’s ${percentile(without, 99).toFixed(0)} ms`);

    const before = await slow!.stats();
    const backupsBefore = await sumAttempt(fast, '2');
    const log = attemptLog();
    // maxRatio 1: under CI load fast calls outlast 30 ms too and take backups; with a smaller budget a slow
    // call could find it spent and wait out the slow provider's 4 s (the cap has its own test below).
    const hedged = echoClient(t, addresses, { plugins: [retry({ hedge: { delayMs: 30, maxRatio: 1 }, onAttempt: log.onAttempt })] }).stub;
    const withBackups = await latencies(150, 10, () => hedged.echo({}));
    const p99 = percentile(withBackups, 99);
    // Below the slow provider's 4 s, which every call without a winning backup waits out: a loaded
    // CI machine stretches the backups themselves (564 ms at load 30).
    t.ok(p99 < BELOW_SLOW_MS, `with backups p99 is ${p99.toFixed(0)} ms (p50 ${percentile(withBackups, 50).toFixed(1)} ms)`);

    const slowCalls = (await slow!.stats()).calls - before.calls;
    t.ok(slowCalls >= 40, `round robin still sent ${slowCalls} first attempts to the slow provider`);
    await waitFor(async () => (await slow!.stats()).cancelled - before.cancelled === slowCalls, { what: 'every slow attempt cancelled on the server' });
    t.pass(`all ${slowCalls} losing attempts were cancelled on the slow provider`);

    // Group the attempts by call. Under load a fast call may also outlast 30 ms and get a backup.
    const calls = new Map<object, LoggedAttempt[]>();
    for (const r of log.records) calls.set(r.call, [...(calls.get(r.call) ?? []), r]);
    const slowFirst = [...calls.values()].filter((c) => c.find((r) => r.attempt === 1)!.endpoint!.id === slow!.address);
    t.equal(slowFirst.length, log.records.filter((r) => r.attempt === 1 && r.endpoint!.id === slow!.address).length);
    for (const attempts of slowFirst) {
      const [first, backup] = [attempts.find((r) => r.attempt === 1)!, attempts.find((r) => r.attempt === 2)];
      t.match(backup, { hedge: true, outcome: 'ok' }, 'a slow call got a backup that won');
      t.not(backup!.endpoint!.id, slow!.address, 'on another provider');
      t.match(first, { outcome: 'cancelled', decision: 'cancelled' }, 'its slow attempt is recorded as cancelled');
    }
    // A backup that lost to a fast first attempt is logged when its cancel ends, which can be after its
    // call returned: the counts are compared once they settle (a mismatch that lasts still fails).
    const backupsOnFast = () => log.records.filter((r) => r.hedge && r.endpoint!.id !== slow!.address).length;
    let served = 0;
    await waitFor(async () => (served = (await sumAttempt(fast, '2')) - backupsBefore) === backupsOnFast(), {
      what: "the fast providers' attempt-2 count to match the backups logged on them",
    });
    t.pass(`the fast providers served the ${served} backups as attempt 2`);
  });

  t.test('backups are capped by maxRatio', async (t) => {
    const backupsBefore = await sumAttempt([slow!, ...fast], '2');
    const log = attemptLog();
    const hedged = echoClient(t, addresses, { plugins: [retry({ hedge: { delayMs: 10, maxRatio: 0.1 }, onAttempt: log.onAttempt })] }).stub;
    // Every call is slow (100 ms on any provider), so every call would want a backup.
    await latencies(100, 10, () => hedged.echo({ delayMs: 100 }));
    const backups = (await sumAttempt([slow!, ...fast], '2')) - backupsBefore;
    t.ok(backups <= 10, `the servers saw ${backups} backups for 100 calls (≤ 10 %)`);
    t.ok(backups >= 5, 'and the budget was used');
    t.equal(log.records.filter((r) => r.hedge).length, backups);
  });

  t.test('non-idempotent methods are never hedged', async (t) => {
    const backupsBefore = await sumAttempt([slow!, ...fast], '2');
    const log = attemptLog();
    const hedged = echoClient(t, addresses, { plugins: [retry({ hedge: { delayMs: 10, maxRatio: 1 }, onAttempt: log.onAttempt })] }).stub;
    const mutate: EchoCall = hedged.mutate;
    const took = await latencies(6, 6, () => mutate({}));
    t.ok(percentile(took, 99) >= SLOW_MS, 'the Mutate on the slow provider waited it out');
    t.equal(log.records.filter((r) => r.hedge).length, 0);
    t.equal((await sumAttempt([slow!, ...fast], '2')) - backupsBefore, 0);
  });

  t.test('a percentile delay waits for minSamples answers, then hedges at the method’s pN', async (t) => {
    const log = attemptLog();
    const hedged = echoClient(t, addresses, { plugins: [retry({ hedge: { percentile: 50, minSamples: 20, maxRatio: 1 }, onAttempt: log.onAttempt })] }).stub;
    // 20 answers of ~30 ms from every provider (a request's own delay overrides the slow one's).
    await latencies(20, 5, () => hedged.echo({ delayMs: 30 }));
    t.equal(log.records.filter((r) => r.hedge).length, 0, 'no backup before the percentile is known');
    const after = await latencies(60, 10, () => hedged.echo({}));
    t.ok(log.records.some((r) => r.hedge && r.outcome === 'ok'), 'then slow calls got backups');
    t.ok(percentile(after, 99) < BELOW_SLOW_MS, `and p99 is ${percentile(after, 99).toFixed(0)} ms (the slow provider's is ${SLOW_MS})`);
  });
});

t.test('a hedged call keeps the caller’s deadline and cancel for every attempt', async (t) => {
  const a = await startServer(t, 'a', { delayMs: 5000 });
  const b = await startServer(t, 'b', { delayMs: 5000 });
  const both = () => a.ran.Echo + b.ran.Echo;
  const aborted = () => a.aborted.length + b.aborted.length;
  const { client, stub } = echoClient(t, [a.address, b.address], { plugins: [retry({ hedge: { delayMs: 20, maxRatio: 1, minPerSecond: 10 } })] });
  // Both connections are dialled first: under load 25 the backup's dial outlasted the 300 ms deadline.
  await client.start();
  await Promise.all(client.endpoints.map((endpoint) => client.transport.ping(endpoint, 10_000)));

  // 1 s: the backup (due after 20 ms) must start before the deadline even if the machine stalls.
  const started = performance.now();
  const late = await settle(stub.echo({}, { timeoutMs: 1000 }));
  const elapsed = performance.now() - started;
  t.equal((late as { error: { code: number } }).error.code, Code.DEADLINE_EXCEEDED);
  t.equal(both(), 2, 'the first attempt and one backup');
  // Not at the handlers' 5 s: a call that waited for its attempts' answers ends at 5,000 ms or later
  // (stalls only add), so a bound of 4,500 still fails it, and leaves 3.5 s past the deadline for a
  // stalled CI machine (it was 2 s). That the deadline ended both attempts is the abort check below.
  t.ok(elapsed < 1000 + 3500, `both ended at the call’s deadline (${elapsed.toFixed(0)} ms)`);
  await waitFor(() => aborted() === 2, { what: 'both handlers aborted' });

  const controller = new AbortController();
  const cancelled = settle(stub.echo({}, { signal: controller.signal }));
  await waitFor(() => both() === 4, { what: 'the backup of the second call running' });
  controller.abort();
  t.equal(((await cancelled) as { error: { code: number } }).error.code, Code.CANCELLED);
  await waitFor(() => aborted() === 4, { what: 'the caller’s cancel reached both attempts' });
  t.equal([...a.aborted, ...b.aborted].filter((reason) => reason === 'CANCELLED').length >= 2, true, 'the last two by CANCEL');
});

t.test('an attempt that fails before the backup is due is retried as usual', async (t) => {
  const limited = await startServer(t, 'limited', () => rateLimited());
  const open = await startServer(t, 'open');
  const log = attemptLog();
  // A backup is due after 5 s, which the refusal (a cold dial, a stalled machine) never approaches.
  const { stub } = echoClient(t, [limited.address, open.address], { plugins: [retry({ hedge: { delayMs: 5000, maxRatio: 1 }, onAttempt: log.onAttempt })] });
  const replies = await Promise.all([stub.echo({}), stub.echo({})]);
  t.same(replies.map((r) => r.servedBy), ['open', 'open']);
  t.match(log.records.filter((r) => r.outcome === 'failed'), [{ hedge: false, decision: 'retry', error: { code: Code.RESOURCE_EXHAUSTED } }]);
  t.equal(log.records.filter((r) => r.hedge).length, 0);
});

t.test('after a retry, the backup timer starts again for the new attempt', async (t) => {
  const limited = await startServer(t, 'limited', () => rateLimited());
  const b = await startServer(t, 'b');
  const c = await startServer(t, 'c');
  const log = attemptLog();
  // The first attempt is refused at once (the connections are dialled first, and the backup delay
  // leaves a stalled machine a second); its 1 s backup timer would fire during the 2 s backoff.
  const { client, stub } = echoClient(t, [limited.address, b.address, c.address], {
    plugins: [retry({ hedge: { delayMs: 1000, maxRatio: 1, minPerSecond: 10 }, backoff: { initialMs: 2000, maxMs: 2000, jitter: 0 }, onAttempt: log.onAttempt })],
  });
  await client.start();
  await Promise.all(client.endpoints.map((endpoint) => client.transport.ping(endpoint, 10_000)));
  await stub.echo({ delayMs: 3000 }, { timeoutMs: 20_000 }); // 2 s backoff + 3 s answer: past the default 5 s
  // Every server is slow for this request, so the backup loses; its record ends when its cancel does.
  await waitFor(() => log.records.length === 3, { what: 'the losing backup’s record' });
  const [first, second, backup] = [1, 2, 3].map((n) => log.records.find((r) => r.attempt === n)!);
  t.match(first, { outcome: 'failed', decision: 'retry', hedge: false });
  t.equal(second!.hedge, false);
  t.equal(backup!.hedge, true);
  const gap = backup!.startedAt - second!.startedAt;
  // (a timer may fire a millisecond early; one that ran from the first attempt would show ~-1,000 ms)
  t.ok(gap >= 990, `the backup waited for its own delay after the retry (${gap.toFixed(1)} ms)`);
});
