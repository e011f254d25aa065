import t from 'tap';
import { Code } from '@trellis/core';
import type { ProviderProcess, ProviderStats } from '@trellis/testkit';
import { retry, retryStopReason } from '../src/index.js';
import { refusingPort } from '@trellis/testkit';
import { attemptLog, echoClient, settle, startProviders, startServer } from './fixtures/echo.js';

/** Server-side counts summed over the providers, since `before`. */
async function served(providers: readonly ProviderProcess[], before: readonly ProviderStats[] = []) {
  const stats = await Promise.all(providers.map((p) => p.stats()));
  const total = { calls: 0, byAttempt: {} as Record<string, number>, perProvider: [] as number[] };
  stats.forEach((s, i) => {
    const base = before[i];
    total.calls += s.calls - (base?.calls ?? 0);
    total.perProvider.push(s.calls - (base?.calls ?? 0));
    for (const [attempt, n] of Object.entries(s.attempts)) {
      const delta = n - (base?.attempts[attempt] ?? 0);
      if (delta > 0) total.byAttempt[attempt] = (total.byAttempt[attempt] ?? 0) + delta;
    }
  });
  return { ...total, raw: stats };
}

async function runAll<T>(count: number, concurrency: number, call: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const i = next++;
      results[i] = await call(i);
    }
  }));
  return results;
}

t.test('every provider failing', async (t) => {
  // Each provider runs the handler and then fails it with UNAVAILABLE: "may have run", and Echo is idempotent.
  const providers = await startProviders(t, ['p1', 'p2', 'p3'], { failRate: 1, failCode: Code.UNAVAILABLE });
  const addresses = providers.map((p) => p.address);

  t.test('a failed endpoint is not picked again for the same call', async (t) => {
    const before = (await served(providers)).raw;
    const log = attemptLog();
    const { stub } = echoClient(t, addresses, { plugins: [retry({ maxAttempts: 5, budget: false, backoff: false, onAttempt: log.onAttempt })] });
    const results = await runAll(30, 1, () => settle(stub.echo({})));
    t.ok(results.every((r) => !r.ok && retryStopReason(r.error) === 'no-endpoint-left'), 'each call stopped when no untried endpoint was left');
    const counted = await served(providers, before);
    t.same(counted.perProvider, [30, 30, 30], 'each provider ran each call exactly once');
    t.same(counted.byAttempt, { 1: 30, 2: 30, 3: 30 }, 'three attempts per call, none beyond');
    for (let call = 0; call < 30; call++) {
      const ids = log.records.slice(call * 3, call * 3 + 3).map((r) => r.endpoint!.id);
      t.equal(new Set(ids).size, 3, `call ${call}: three different endpoints (${ids.join(', ')})`);
    }
  });

  t.test('with fallbackToFailed the call goes back to failed endpoints once none is left', async (t) => {
    const before = (await served(providers)).raw;
    const log = attemptLog();
    const { stub } = echoClient(t, addresses, {
      plugins: [retry({ maxAttempts: 5, budget: false, backoff: false, fallbackToFailed: true, onAttempt: log.onAttempt })],
    });
    const result = await settle(stub.echo({}));
    t.equal(retryStopReason((result as { error: Error }).error), 'max-attempts');
    t.same(log.records.map((r) => r.decision), ['retry', 'retry', 'fallback', 'fallback', 'max-attempts']);
    t.equal(new Set(log.records.slice(0, 3).map((r) => r.endpoint!.id)).size, 3, 'first every endpoint once');
    t.same([...log.records[3]!.excluded], [], 'then nothing excluded');
    t.same((await served(providers, before)).byAttempt, { 1: 1, 2: 1, 3: 1, 4: 1, 5: 1 });
  });

  t.test('attempts stay within the retry budget, counted on the servers', async (t) => {
    const calls = 200;
    const before = (await served(providers)).raw;
    // A 50 s window: every call of the run stays in it even if a loaded machine stretches the run past
    // 10 s (then a 10 s window would forget early calls and the counts below would not add up).
    const plugin = retry({ maxAttempts: 3, backoff: false, budget: { ratio: 0.1, minPerSecond: 0.2, windowMs: 50_000 } });
    const { stub } = echoClient(t, addresses, { plugins: [plugin] });
    const results = await runAll(calls, 10, () => settle(stub.echo({})));
    const counted = await served(providers, before);
    const retries = counted.calls - calls;
    t.equal(counted.byAttempt['1'], calls, 'every call ran once');
    // 10 % of 200 calls + 0.2/s × 50 s of floor = 30 retries at most, however many attempts were allowed.
    t.ok(retries <= 30, `retries the servers saw: ${retries} ≤ 30 (without a budget: ${calls * 2})`);
    t.ok(retries >= 20, `the budget was used, not bypassed (${retries})`);
    t.same(plugin.budgets(), [{ calls, spent: retries, allowed: 30 }], 'the plugin’s own count agrees');
    const spent = results.filter((r) => !r.ok && retryStopReason(r.error) === 'budget');
    t.ok(spent.length >= calls - 30, `most calls were refused a retry (${spent.length})`);
    t.match((spent[0] as { error: Error }).error.message, /^injected failure \(not retried: the retry budget is spent — \d+ retries for \d+ calls in the last 50 s \(ratio 0\.1, floor 0\.2\/s\)\)$/);
    t.equal((spent[0] as { error: { code: number } }).error.code, Code.UNAVAILABLE, 'the original error, with a note');
  });

  t.test('without a budget the same outage triples the load (the budget is what holds it)', async (t) => {
    const before = (await served(providers)).raw;
    const { stub } = echoClient(t, addresses, { plugins: [retry({ maxAttempts: 3, backoff: false, budget: false })] });
    await runAll(200, 10, () => settle(stub.echo({})));
    t.equal((await served(providers, before)).calls, 600);
  });
});

t.test('when the kernel’s own re-send runs out of endpoints inside an attempt, the caller gets the real failure', async (t) => {
  // One server fails the call after running it; the other address refuses connections. Attempt 2 is
  // refused there, the kernel looks for a third endpoint and finds none: that error names no endpoint.
  const failing = await startServer(t, 'failing', { failCode: Code.UNAVAILABLE });
  const dead = await refusingPort(); // refused, and held so no other process can listen there
  t.teardown(() => dead.close());
  const refusing = dead.address;
  const log = attemptLog();
  const { stub } = echoClient(t, [failing.address, refusing], { plugins: [retry({ maxAttempts: 5, backoff: false, onAttempt: log.onAttempt })] });
  const result = await settle(stub.echo({ failMessage: 'handler failed' }));
  const error = (result as { error: Error & { code: number } }).error;
  t.equal(retryStopReason(error), 'no-endpoint-left');
  t.match(error.message, /^handler failed \(not retried: every endpoint able to serve trellis\.test\.EchoService\/Echo already failed this call/, 'the failure that ran, not the routing message');
  t.same(log.records.map((r) => [r.attempt, r.decision]), [[1, 'retry'], [2, 'no-endpoint-left']]);
  t.same(log.records[1]!.tried, [refusing]);
  t.equal(failing.ran.Echo, 1);

  const again = attemptLog();
  const fallback = echoClient(t, [failing.address, refusing], {
    plugins: [retry({ maxAttempts: 4, backoff: false, budget: false, fallbackToFailed: true, onAttempt: again.onAttempt })],
  }).stub;
  const last = await settle(fallback.echo({ failMessage: 'handler failed' }));
  t.equal(retryStopReason((last as { error: Error }).error), 'max-attempts');
  t.same(again.records.map((r) => r.decision), ['retry', 'fallback', 'fallback', 'max-attempts'], 'fallbackToFailed goes back to the failed server');
  t.equal(failing.ran.Echo, 1 + 3, 'the refusing address is dead by then, so the fallbacks all went to the failed server');
});
