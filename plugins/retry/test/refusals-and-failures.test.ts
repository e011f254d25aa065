import t from 'tap';
import { Code, DEFAULT_FAILURE_CODES, definePlugin, notExecuted, type Plugin } from '@trellis/core';
import { RouterOrder } from '@trellis/core/spi';
import { DEFAULT_RETRY_ON, retry, retryStopReason } from '../src/index.js';
import { attemptLog, echoClient, settle, startServer } from './fixtures/echo.js';

/** A router that refuses the attempts `refuse` picks, as a rule or an open circuit would. */
function refusingRouter(refuse: (attempt: number, excluded: ReadonlySet<string>) => string | undefined): { plugin: Plugin; routed: number[] } {
  const routed: number[] = [];
  const plugin = definePlugin({
    meta: { name: 'test-refusing-router', kernel: '^0.1.0' },
    setupClient(ctx) {
      ctx.addRouter({
        name: 'refusing',
        order: RouterOrder.USER,
        route(list, invocation) {
          routed.push(invocation.attempt);
          const message = refuse(invocation.attempt, invocation.excluded);
          if (message !== undefined) throw notExecuted(Code.UNAVAILABLE, message);
          return list;
        },
      });
    },
  });
  return { plugin, routed };
}

t.test('a router that refuses a call (UNAVAILABLE, never ran) is not retried', async (t) => {
  // Issue #16 defect 4: it was routed (and refused) three times, once per attempt.
  const server = await startServer(t, 'a');
  const router = refusingRouter(() => 'no route for tenant acme');
  const log = attemptLog();
  const { stub } = echoClient(t, [server.address], { plugins: [retry({ backoff: false, onAttempt: log.onAttempt }), router.plugin] });
  const result = await settle(stub.echo({}));
  t.notOk(result.ok);
  const error = (result as { error: Error & { code: number; mayHaveRun: boolean } }).error;
  t.match(error, { code: Code.UNAVAILABLE, mayHaveRun: false, message: 'no route for tenant acme' }, 'the router\'s own error, untouched');
  t.same(router.routed, [1], 'routed once');
  t.equal(retryStopReason(error), 'refused');
  t.same(log.records.map((r) => [r.attempt, r.decision]), [[1, 'refused']]);
  t.equal(server.ran.Echo, 0);
});

t.test('a retry refused before reaching an endpoint names the refusal, not "every endpoint failed"', async (t) => {
  // Issue #16 defect 2: the healthy provider had never been tried, yet the error said every
  // endpoint already failed, and the open circuit that refused the retry was not named.
  const failing = await startServer(t, 'failing', { failCode: Code.UNAVAILABLE });
  const healthy = await startServer(t, 'healthy');
  const router = refusingRouter((attempt) => (attempt > 1 ? `circuit open for every provider this call has not tried yet of x: ${healthy.address} (open, half-open in 80 ms)` : undefined));
  const log = attemptLog();
  // In order, so the first attempt goes to the failing provider.
  const { stub } = echoClient(t, [failing.address, healthy.address], {
    plugins: [retry({ backoff: false, onAttempt: log.onAttempt }), router.plugin],
  });
  const error = ((await settle(stub.echo({ failMessage: 'db down' }))) as { error: Error & { code: number } }).error;
  t.equal(retryStopReason(error), 'refused');
  t.equal(error.code, Code.UNAVAILABLE);
  t.equal(
    error.message,
    `db down (not retried: attempt 2 found no endpoint to send to: circuit open for every provider this call has not tried yet of x: ${healthy.address} (open, half-open in 80 ms))`,
    'the real failure, and why the next attempt went nowhere',
  );
  t.same(log.records.map((r) => [r.attempt, r.decision]), [[1, 'retry'], [2, 'refused']]);
  t.same(router.routed, [1, 2]);
  t.equal(healthy.ran.Echo, 0);
});

t.test('by default retry retries the shared failures and never an answer', async (t) => {
  t.same(DEFAULT_RETRY_ON, DEFAULT_FAILURE_CODES, 'retryOn defaults to the kernel\'s one definition of failure');
  const a = await startServer(t, 'a');
  const b = await startServer(t, 'b');
  const { stub } = echoClient(t, [a.address, b.address], { plugins: [retry({ backoff: false, budget: false })] });
  const ran = () => a.ran.Echo + b.ran.Echo + a.ran.Mutate + b.ran.Mutate;
  for (const code of [Code.INTERNAL, Code.UNKNOWN, Code.DATA_LOSS, Code.UNAVAILABLE]) {
    const before = ran();
    await settle(stub.echo({ failCode: code }));
    t.equal(ran() - before, 2, `${Code[code]} on an idempotent method: tried on both providers`);
  }
  for (const code of [Code.NOT_FOUND, Code.INVALID_ARGUMENT, Code.PERMISSION_DENIED, Code.RESOURCE_EXHAUSTED, Code.FAILED_PRECONDITION]) {
    const before = ran();
    const result = await settle(stub.echo({ failCode: code }));
    t.equal(ran() - before, 1, `${Code[code]} is an answer: not retried`);
    t.equal(retryStopReason((result as { error: Error }).error), undefined, 'and returned untouched');
  }
  const before = ran();
  const mutate = await settle(stub.mutate({ failCode: Code.INTERNAL }));
  t.equal(ran() - before, 1, 'INTERNAL on a method that is not idempotent and may have run: not retried');
  t.equal(retryStopReason((mutate as { error: Error }).error), 'not-idempotent');
});
