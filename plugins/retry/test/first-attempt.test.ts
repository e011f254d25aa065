import t from 'tap';
import { definePlugin, type CallEnd } from '@trellis/core';
import { retry, retryAttemptsKey, type AttemptRecord } from '../src/index.js';
import { attemptLog, echoClient, rateLimited, startServer } from './fixtures/echo.js';

/**
 * The kernel's retry policy makes a call's attempt history only when it is needed: at the first
 * failure, or from the start when an `onAttempt` listener hears of every attempt. A call observer
 * (no interceptor: the kernel runs the attempts) reads the history when the call ends.
 */
function histories() {
  const seen: (readonly AttemptRecord[])[] = [];
  const plugin = definePlugin({
    meta: { name: 'test-history', kernel: '^0.1.0' },
    setupClient(ctx) {
      ctx.observe({ callEnd: (call: CallEnd) => void seen.push(call.invocation.context.get(retryAttemptsKey)) });
    },
  });
  return { plugin, seen };
}

t.test('a call answered at its first attempt has no history; a retried one has all of it', async (t) => {
  const a = await startServer(t, 'a', (attempt) => (attempt === 1 ? rateLimited() : undefined));
  const b = await startServer(t, 'b', (attempt) => (attempt === 1 ? rateLimited() : undefined));
  const ok = await startServer(t, 'ok');
  const history = histories();
  const once = echoClient(t, [ok.address], { plugins: [retry(), history.plugin] });
  await once.stub.echo({});
  t.same(history.seen, [[]], 'nothing was retried: no records were made');

  const twice = echoClient(t, [a.address, b.address], { plugins: [retry(), history.plugin] });
  await twice.stub.echo({});
  const records = history.seen[1]!;
  t.match(records, [
    { attempt: 1, outcome: 'failed', decision: 'retry' },
    { attempt: 2, outcome: 'ok' },
  ], 'the first attempt\'s record was made when it failed');
  t.equal(records[0]!.tried.length, 1, 'with the endpoint its send went to');
  t.equal(records[0]!.endpoint!.id, records[0]!.tried[0]);
  t.not(records[1]!.endpoint!.id, records[0]!.endpoint!.id, 'and attempt 2 went elsewhere');
  t.ok(records[0]!.latencyMs! >= 0 && records[0]!.startedAt <= records[1]!.startedAt);
});

t.test('an onAttempt listener hears of a first attempt that answered', async (t) => {
  const ok = await startServer(t, 'ok');
  const log = attemptLog();
  const history = histories();
  const { stub } = echoClient(t, [ok.address], { plugins: [retry({ onAttempt: log.onAttempt }), history.plugin] });
  await stub.echo({});
  t.match(log.records, [{ attempt: 1, outcome: 'ok', tried: [ok.address], method: 'Echo' }]);
  t.equal(history.seen[0]!.length, 1, 'and the call\'s history holds it');
});
