import t from 'tap';
import { Code, InterceptorOrder, definePlugin, type Interceptor } from '@trellis/core';
import { retry, retryAttemptsKey, retryStopReason, type AttemptRecord } from '../src/index.js';
import { attemptLog, echoClient, rateLimited, settle, startServer } from './fixtures/echo.js';

/** A tracing-style plugin: one interceptor outside retry (sees the call), one inside (sees attempts). */
function observer() {
  const calls: (readonly AttemptRecord[])[] = [];
  const attempts: { attempt: number; excluded: string[] }[] = [];
  const outside: Interceptor = (next) => async (inv) => {
    try {
      return await next(inv);
    } finally {
      calls.push(inv.context.get(retryAttemptsKey));
    }
  };
  const inside: Interceptor = (next) => (inv) => {
    attempts.push({ attempt: inv.attempt, excluded: [...inv.excluded] });
    return next(inv);
  };
  const plugin = definePlugin({
    meta: { name: 'test-observer', kernel: '^0.1.0' },
    setupClient(ctx) {
      ctx.addInterceptor(outside, InterceptorOrder.TRACING);
      ctx.addInterceptor(inside, InterceptorOrder.USER);
    },
  });
  return { plugin, calls, attempts };
}

t.test('attempts are visible: in the invocation, to the server, to tracing and to onAttempt', async (t) => {
  // Both servers refuse every first attempt before it runs, so each call succeeds on attempt 2.
  const a = await startServer(t, 'a', (attempt) => (attempt === 1 ? rateLimited() : undefined));
  const b = await startServer(t, 'b', (attempt) => (attempt === 1 ? rateLimited() : undefined));
  const seen = observer();
  const log = attemptLog();
  const { stub } = echoClient(t, [a.address, b.address], { plugins: [retry({ onAttempt: log.onAttempt }), seen.plugin] });
  const reply = await stub.echo({ message: 'x' });

  t.equal(reply.attempt, 2, 'the server handler saw attempt 2 (ServerInvocation.attempt)');
  t.same([...a.seen, ...b.seen], [{ attempt: 2, metadata: '2' }], 'and the trellis-attempt metadata, on the one run');
  t.equal(seen.attempts.length, 2, 'interceptors below retry see each attempt');
  t.same(seen.attempts[0], { attempt: 1, excluded: [] });
  t.equal(seen.attempts[1]!.attempt, 2);
  t.equal(seen.attempts[1]!.excluded.length, 1, 'attempt 2 excludes the endpoint that refused attempt 1');

  t.equal(seen.calls.length, 1, 'an interceptor above retry sees one call…');
  const history = seen.calls[0]!;
  t.match(history, [
    { attempt: 1, hedge: false, outcome: 'failed', decision: 'retry', error: { code: Code.RESOURCE_EXHAUSTED } },
    { attempt: 2, hedge: false, outcome: 'ok', decision: undefined, error: undefined },
  ], '…and reads every attempt from the exported context key');
  t.not(history[0]!.endpoint!.id, history[1]!.endpoint!.id);
  t.equal(history[1]!.endpoint!.id, seen.attempts[1]!.excluded[0] === a.address ? b.address : a.address);
  t.ok(history.every((r) => typeof r.latencyMs === 'number' && r.latencyMs >= 0));
  t.same(log.records.map((r) => [r.attempt, r.outcome, r.method]), [[1, 'failed', 'Echo'], [2, 'ok', 'Echo']], 'onAttempt got both, in order');
});

t.test('a throwing onAttempt listener does not change the outcome', async (t) => {
  const a = await startServer(t, 'a', (attempt) => (attempt === 1 ? rateLimited() : undefined));
  const b = await startServer(t, 'b');
  const { stub } = echoClient(t, [a.address, b.address], {
    plugins: [retry({ onAttempt: () => { throw new Error('listener bug'); } })],
  });
  const replies = await Promise.all([stub.echo({}), stub.echo({})]);
  t.same(replies.map((r) => r.servedBy).sort(), ['b', 'b']);
});

t.test('maxAttempts 1 for a method turns retry off for it: no records, the error untouched', async (t) => {
  const a = await startServer(t, 'a', () => rateLimited());
  const seen = observer();
  const { stub } = echoClient(t, [a.address], { plugins: [retry({ methods: { Echo: { maxAttempts: 1 } } }), seen.plugin] });
  const result = await settle(stub.echo({}));
  t.notOk(result.ok);
  const error = (result as { error: Error & { code: number } }).error;
  t.equal(error.code, Code.RESOURCE_EXHAUSTED);
  t.equal(error.message, 'rate limited (test)');
  t.equal(retryStopReason(error), undefined);
  t.same(seen.calls, [[]], 'the context key holds no attempts');
});

t.test('maxAttempts bounds the tries, with a note on the error', async (t) => {
  const servers = await Promise.all(['a', 'b', 'c', 'd'].map((name) => startServer(t, name, () => rateLimited())));
  const log = attemptLog();
  const { stub } = echoClient(t, servers.map((s) => s.address), { plugins: [retry({ maxAttempts: 3, onAttempt: log.onAttempt })] });
  const result = await settle(stub.mutate({}));
  const error = (result as { error: Error & { code: number } }).error;
  t.equal(error.code, Code.RESOURCE_EXHAUSTED);
  t.equal(error.message, 'rate limited (test) (gave up after 3 attempts)');
  t.equal(retryStopReason(error), 'max-attempts');
  t.same(log.records.map((r) => r.decision), ['retry', 'retry', 'max-attempts']);
  t.equal(new Set(log.records.map((r) => r.endpoint!.id)).size, 3, 'three different servers');
});
