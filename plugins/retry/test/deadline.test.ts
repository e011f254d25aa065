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

t.test('a 2,000 ms deadline with slow failing providers: retries use only the time left', async (t) => {
  // Each of the three servers answers UNAVAILABLE after 800 ms: attempt 1 ends at ~800, attempt 2 at
  // ~1,600, and attempt 3 (the last untried server) runs into the deadline, 400 ms before its server
  // would answer (a loaded machine only makes the answers later). The connections are dialled before
  // the clock starts (a dial took 100–280 ms under load 20). At least two attempts are expected: the
  // first has 1.2 s of slack for a stalled machine (with 400 ms answers and a 1,000 ms deadline it
  // had 600 ms).
  const servers = await Promise.all(['s1', 's2', 's3'].map((name) => startServer(t, name, { delayMs: 800, failCode: Code.UNAVAILABLE })));
  const seen = deadlines();
  const log = attemptLog();
  const { client, stub } = echoClient(t, servers.map((s) => s.address), {
    plugins: [retry({ maxAttempts: 10, budget: false, backoff: false, onAttempt: log.onAttempt }), seen.plugin],
  });
  await client.start();
  await Promise.all(client.endpoints.map((endpoint) => client.transport.ping(endpoint, 10_000)));
  const started = performance.now();
  const results = await Promise.all(Array.from({ length: 6 }, () => settle(stub.echo({}, { timeoutMs: 2000 }))));
  const elapsed = performance.now() - started;
  for (const result of results) {
    t.notOk(result.ok);
    t.equal((result as { error: { code: number } }).error.code, Code.DEADLINE_EXCEEDED);
  }
  for (const attempts of seen.calls()) {
    t.ok(attempts.length >= 2, `${attempts.length} attempts in 2,000 ms`);
    t.ok(attempts.every((d) => d === attempts[0]), 'every attempt had the call’s own deadline, never a fresh 2,000 ms');
  }
  // Correctness, not speed: the calls end at their deadline, not when the third servers answer
  // (2,400 ms) nor later. What proves it is causal, not this clock: a call that outlived its deadline
  // until its last server answered ends UNAVAILABLE (the code check above), a retry that restarted
  // the clock fails the same-deadline check, and each last attempt must be DEADLINE_EXCEEDED and its
  // handler aborted (below). This bound only catches a call left hanging; 3 s beyond the deadline
  // (it was 1.5 s) so a 2–3 s stall of a loaded CI machine cannot fail it.
  t.ok(elapsed < 2000 + 3000, `all calls ended at the deadline (${elapsed.toFixed(0)} ms)`);
  const last = log.records.filter((r) => r.outcome === 'failed' && r.error!.code === Code.DEADLINE_EXCEEDED);
  t.equal(last.length, 6, 'each call’s last attempt ran out of time…');
  await waitFor(() => servers.reduce((n, s) => n + s.aborted.length, 0) === 6, { what: 'six aborted handlers' });
  t.pass('and its server stopped working on it');
  t.ok(last.every((r) => r.decision === 'not-retryable'), '…and was not retried');
});

t.test('attemptTimeoutMs splits the deadline; each attempt gets min(its cap, the time left)', async (t) => {
  const servers = await Promise.all(['slow1', 'slow2', 'slow3'].map((name) => startServer(t, name, { delayMs: 20_000 })));
  const seen = deadlines();
  const log = attemptLog();
  const { stub } = echoClient(t, servers.map((s) => s.address), {
    plugins: [retry({ attemptTimeoutMs: 1000, maxAttempts: 10, budget: false, backoff: false, onAttempt: log.onAttempt }), seen.plugin],
  });
  // Attempts of 1,000 ms in a 3,000 ms deadline: the dials and turns between attempts (up to ~100 ms
  // each on a loaded CI machine, more in a stall) come out of the last attempt's share; only a stall
  // of about a second would leave room for two (at 400 ms in 1,200 ms, a 400 ms stall did).
  const started = performance.now();
  const result = await settle(stub.echo({}, { timeoutMs: 3000 }));
  const elapsed = performance.now() - started;
  t.equal((result as { error: { code: number } }).error.code, Code.DEADLINE_EXCEEDED);
  const [attempts] = seen.calls();
  t.equal(attempts!.length, 3, 'three attempts fit: ~1,000 + ~1,000 + the last ~1,000');
  const callDeadline = attempts![attempts!.length - 1]!;
  t.ok(attempts!.slice(0, -1).every((d) => d < callDeadline), 'earlier attempts were capped below the call’s deadline');
  t.ok(attempts!.every((d) => d <= callDeadline));
  t.same(log.records.map((r) => r.decision), ['retry', 'retry', 'not-retryable']);
  // Not at the slow handlers' 20 s: a call that waited for them ends at 20 s or later, so 7 s past the
  // deadline (it was 3 s) still fails it by far, and a stalled CI machine cannot.
  t.ok(elapsed < 3000 + 7000, `the call ended at its deadline (${elapsed.toFixed(0)} ms)`);
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
  const { client, stub } = echoClient(t, [a.address, b.address], { plugins: [retry({ budget: false }), plugin] });
  // Dialled first, and 1 s: the first attempt must fail UNAVAILABLE inside the deadline (a cold dial
  // under load, or a stall, outlasted a 200 ms one and the attempt itself ran out of time).
  await client.start();
  await Promise.all(client.endpoints.map((endpoint) => client.transport.ping(endpoint, 10_000)));
  const result = await settle(stub.echo({ failCode: Code.UNAVAILABLE, failMessage: 'first failure' }, { timeoutMs: 1000 }));
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
  // 4 s: the first attempt fails at once even on a stalled machine; the time left is still below the backoff.
  const result = await settle(stub.echo({ failCode: Code.UNAVAILABLE, failMessage: 'down' }, { timeoutMs: 4000 }));
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
