import t from 'tap';
import { Code, InterceptorOrder, definePlugin, type Interceptor } from '@trellis/core';
import { waitFor } from '@trellis/testkit';
import { retry, retryStopReason } from '../src/index.js';
import { attemptLog, echoClient, settle, startServer } from './fixtures/echo.js';

/** Records, below retry, the deadline each attempt was given and the first attempt's (= the call's). */
function deadlines() {
  const byCall = new Map<unknown, number[]>();
  const interceptor: Interceptor = (next) => (inv) => {
    const list = byCall.get(inv.context) ?? [];
    list.push(inv.deadline);
    byCall.set(inv.context, list);
    return next(inv);
  };
  const plugin = definePlugin({ meta: { name: 'test-deadlines', kernel: '^0.1.0' }, setupClient: (ctx) => ctx.addInterceptor(interceptor, InterceptorOrder.USER) });
  return { plugin, calls: () => [...byCall.values()] };
}

t.test('a 1,000 ms deadline with slow failing providers: retries use only the time left', async (t) => {
  // Each of the three servers answers UNAVAILABLE after 400 ms: attempt 1 ends at ~400, attempt 2 at
  // ~800, and attempt 3 (the last untried server) runs into the deadline — with 300 ms it ended at
  // ~900 with UNAVAILABLE on an idle machine, and no server was left to try. The connections are dialled
  // before the clock starts (a dial took 100–280 ms under load 20, and with it the first attempt
  // outlasted an 800 ms deadline at load 25), and the deadline leaves room for at least two attempts.
  const servers = await Promise.all(['s1', 's2', 's3'].map((name) => startServer(t, name, { delayMs: 400, failCode: Code.UNAVAILABLE })));
  const seen = deadlines();
  const log = attemptLog();
  const { client, stub } = echoClient(t, servers.map((s) => s.address), {
    plugins: [retry({ maxAttempts: 10, budget: false, backoff: false, onAttempt: log.onAttempt }), seen.plugin],
  });
  await client.start();
  await Promise.all(client.endpoints.map((endpoint) => client.transport.ping(endpoint, 10_000)));
  const started = performance.now();
  const results = await Promise.all(Array.from({ length: 6 }, () => settle(stub.echo({}, { timeoutMs: 1000 }))));
  const elapsed = performance.now() - started;
  for (const result of results) {
    t.notOk(result.ok);
    t.equal((result as { error: { code: number } }).error.code, Code.DEADLINE_EXCEEDED);
  }
  for (const attempts of seen.calls()) {
    t.ok(attempts.length >= 2, `${attempts.length} attempts in 1,000 ms`);
    t.ok(attempts.every((d) => d === attempts[0]), 'every attempt had the call’s own deadline, never a fresh 1,000 ms');
  }
  // Correctness, not speed: a retry that restarted the clock would take ≥ 2,000 ms (the bound leaves
  // most of the rest for a loaded CI machine).
  t.ok(elapsed < 1000 + 700, `all calls ended at the deadline (${elapsed.toFixed(0)} ms)`);
  const last = log.records.filter((r) => r.outcome === 'failed' && r.error!.code === Code.DEADLINE_EXCEEDED);
  t.equal(last.length, 6, 'each call’s last attempt ran out of time…');
  await waitFor(() => servers.reduce((n, s) => n + s.aborted.length, 0) === 6, { what: 'six aborted handlers' });
  t.pass('and its server stopped working on it');
  t.ok(last.every((r) => r.decision === 'not-retryable'), '…and was not retried');
});

t.test('attemptTimeoutMs splits the deadline; each attempt gets min(its cap, the time left)', async (t) => {
  const servers = await Promise.all(['slow1', 'slow2', 'slow3'].map((name) => startServer(t, name, { delayMs: 5000 })));
  const seen = deadlines();
  const log = attemptLog();
  const { stub } = echoClient(t, servers.map((s) => s.address), {
    plugins: [retry({ attemptTimeoutMs: 400, maxAttempts: 10, budget: false, backoff: false, onAttempt: log.onAttempt }), seen.plugin],
  });
  // Attempts of 400 ms in a 1,200 ms deadline: the dials and turns between attempts (up to ~100 ms each
  // on a loaded CI machine) come out of the last attempt's share, never leaving room for only two.
  const started = performance.now();
  const result = await settle(stub.echo({}, { timeoutMs: 1200 }));
  const elapsed = performance.now() - started;
  t.equal((result as { error: { code: number } }).error.code, Code.DEADLINE_EXCEEDED);
  const [attempts] = seen.calls();
  t.equal(attempts!.length, 3, 'three attempts fit: ~400 + ~400 + the last ~400');
  const callDeadline = attempts![attempts!.length - 1]!;
  t.ok(attempts!.slice(0, -1).every((d) => d < callDeadline), 'earlier attempts were capped below the call’s deadline');
  t.ok(attempts!.every((d) => d <= callDeadline));
  t.same(log.records.map((r) => r.decision), ['retry', 'retry', 'not-retryable']);
  // (not at the slow handlers' 5 s: the bound leaves a loaded CI machine room)
  t.ok(elapsed < 1200 + 1000, `the call ended at its deadline (${elapsed.toFixed(0)} ms)`);
  // Each timed-out attempt was cancelled on its server, so the slow handlers stopped working.
  await waitFor(() => servers.reduce((n, s) => n + s.aborted.length, 0) === 3, { what: 'three aborted handlers' });
  t.same(servers.map((s) => s.ran.Echo), [1, 1, 1], 'one attempt per server');
});

t.test('a retry that finds the deadline passed fails DEADLINE_EXCEEDED at once', async (t) => {
  const a = await startServer(t, 'a');
  const b = await startServer(t, 'b');
  // Below retry, hold a failure back until after the deadline: retry then sees a retryable error too late.
  const late: Interceptor = (next) => async (inv) => {
    try {
      return await next(inv);
    } catch (error) {
      await new Promise((resolve) => setTimeout(resolve, inv.deadline - performance.now() + 20));
      throw error;
    }
  };
  const plugin = definePlugin({ meta: { name: 'test-late', kernel: '^0.1.0' }, setupClient: (ctx) => ctx.addInterceptor(late, InterceptorOrder.USER) });
  const { stub } = echoClient(t, [a.address, b.address], { plugins: [retry({ budget: false }), plugin] });
  const result = await settle(stub.echo({ failCode: Code.UNAVAILABLE, failMessage: 'first failure' }, { timeoutMs: 200 }));
  const error = (result as { error: Error & { code: number; mayHaveRun: boolean } }).error;
  t.equal(error.code, Code.DEADLINE_EXCEEDED);
  t.match(error.message, /^deadline exceeded after 1 attempt of trellis\.test\.EchoService\/Echo; last error: RpcError UNAVAILABLE: first failure$/);
  t.equal(error.mayHaveRun, true);
  t.equal(retryStopReason(error), 'deadline');
  t.equal(a.ran.Echo + b.ran.Echo, 1, 'no second attempt');
});

t.test('a backoff that would outlast the deadline is not waited for', async (t) => {
  const a = await startServer(t, 'a');
  const b = await startServer(t, 'b');
  const { stub } = echoClient(t, [a.address, b.address], {
    plugins: [retry({ budget: false, backoff: { initialMs: 5000, maxMs: 5000, jitter: 0 } })],
  });
  const result = await settle(stub.echo({ failCode: Code.UNAVAILABLE, failMessage: 'down' }, { timeoutMs: 2000 }));
  const error = (result as { error: Error & { code: number } }).error;
  t.equal(error.code, Code.UNAVAILABLE);
  t.match(error.message, /^down \(not retried: \d+ ms were left before the deadline, less than the 5000 ms backoff\)$/);
  t.equal(retryStopReason(error), 'deadline');
  t.equal(a.ran.Echo + b.ran.Echo, 1);
});

t.test('a caller cancel during the backoff ends the call at once', async (t) => {
  const a = await startServer(t, 'a');
  const b = await startServer(t, 'b');
  const controller = new AbortController();
  const { stub } = echoClient(t, [a.address, b.address], {
    plugins: [retry({
      budget: false,
      backoff: { initialMs: 5000, maxMs: 5000, jitter: 0 },
      // Cancel once the backoff has started.
      onAttempt: (r) => { if (r.decision === 'retry') setImmediate(() => controller.abort()); },
    })],
  });
  const result = await settle(stub.echo({ failCode: Code.UNAVAILABLE }, { timeoutMs: 20_000, signal: controller.signal }));
  const error = (result as { error: Error & { code: number } }).error;
  t.equal(error.code, Code.CANCELLED);
  t.match(error.message, /cancelled by the caller while waiting to retry/);
  t.equal(a.ran.Echo + b.ran.Echo, 1);
});
