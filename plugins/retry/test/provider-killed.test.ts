import t from 'tap';
import { Code, InterceptorOrder, definePlugin, type EndpointInterceptor, type RpcError } from '@trellis/core';
import { refusingPort, waitFor } from '@trellis/testkit';
import { retry, retryStopReason } from '../src/index.js';
import { attemptLog, echoClient, settle, startProviders } from './fixtures/echo.js';

/** Counts, per endpoint and method, the attempts on the wire right now (an endpoint interceptor). */
function inflightCounter() {
  const inflight = new Map<string, number>();
  const key = (endpoint: string, method: string) => `${endpoint} ${method}`;
  const interceptor: EndpointInterceptor = (next) => async (inv, endpoint) => {
    const k = key(endpoint.id, inv.method.name);
    inflight.set(k, (inflight.get(k) ?? 0) + 1);
    try {
      return await next(inv, endpoint);
    } finally {
      inflight.set(k, inflight.get(k)! - 1);
    }
  };
  const plugin = definePlugin({ meta: { name: 'test-inflight', kernel: '^0.1.0' }, setupClient: (ctx) => ctx.addEndpointInterceptor(interceptor, InterceptorOrder.USER) });
  return { plugin, on: (endpoint: string, method: string) => inflight.get(key(endpoint, method)) ?? 0 };
}

t.test('a provider killed mid-traffic', async (t) => {
  const [victim, ...survivors] = await startProviders(t, ['victim', 'p2', 'p3']);
  // One more address where nothing listens: requests sent there are refused before they run. Held
  // (refusingPort), so no other process can start listening there mid-test.
  const dead = await refusingPort();
  t.teardown(() => dead.close());
  const refusing = dead.address;
  const counter = inflightCounter();
  const log = attemptLog();
  // transparentRetries: 0 — the kernel leaves even never-ran failures to the plugin here.
  const { stub } = echoClient(t, [victim!.address, survivors[0]!.address, survivors[1]!.address, refusing], {
    transparentRetries: 0,
    plugins: [retry({ onAttempt: log.onAttempt }), counter.plugin],
  });

  type Outcome = { method: 'Echo' | 'Mutate'; ok: boolean; error?: RpcError };
  const outcomes: Outcome[] = [];
  let afterKill = -1;
  let stop = false;
  const worker = async (method: 'Echo' | 'Mutate') => {
    while (!stop) {
      const result = await settle((method === 'Echo' ? stub.echo : stub.mutate)({ delayMs: 40 }));
      outcomes.push(result.ok ? { method, ok: true } : { method, ok: false, error: result.error });
      if (afterKill >= 0 && outcomes.length - afterKill >= 150) stop = true;
    }
  };
  const workers = [...Array.from({ length: 6 }, () => worker('Echo')), ...Array.from({ length: 6 }, () => worker('Mutate'))];

  // Kill the victim while both an idempotent and a non-idempotent call are running on it.
  await waitFor(() => outcomes.length >= 60 && counter.on(victim!.address, 'Echo') > 0 && counter.on(victim!.address, 'Mutate') > 0, {
    timeoutMs: 20_000, intervalMs: 1, what: 'Echo and Mutate in flight on the victim',
  });
  await victim!.kill('SIGKILL');
  afterKill = outcomes.length;
  await Promise.all(workers);

  const echo = outcomes.filter((o) => o.method === 'Echo');
  const mutate = outcomes.filter((o) => o.method === 'Mutate');
  t.ok(echo.length > 100 && mutate.length > 100, `traffic ran: ${echo.length} Echo, ${mutate.length} Mutate`);
  t.same(echo.filter((o) => !o.ok).map((o) => o.error!.message), [], 'every idempotent call succeeded');

  const failed = mutate.filter((o) => !o.ok);
  t.ok(failed.length >= 1, `non-idempotent calls on the victim failed (${failed.length})`);
  for (const { error } of failed) {
    t.equal(error!.code, Code.UNAVAILABLE);
    t.equal(error!.mayHaveRun, true, 'each had been sent, so it may have run');
    t.equal(retryStopReason(error), 'not-idempotent');
    t.match(error!.message, new RegExp(`\\(not retried: trellis\\.test\\.EchoService/Mutate is not idempotent and the request may have run on ${victim!.address.replace(/\./g, '\\.')};`));
  }

  const mayHaveRun = log.records.filter((r) => r.outcome === 'failed' && r.error!.mayHaveRun);
  t.ok(mayHaveRun.every((r) => r.endpoint!.id === victim!.address), 'only the victim failed calls that had been sent');
  t.ok(mayHaveRun.some((r) => r.method === 'Echo' && r.decision === 'retry'), 'idempotent calls cut off by the kill were retried');
  t.same(
    mayHaveRun.filter((r) => r.method === 'Mutate').map((r) => r.decision),
    Array(failed.length).fill('not-idempotent'),
    'non-idempotent calls cut off by the kill were not',
  );

  const neverRan = log.records.filter((r) => r.outcome === 'failed' && !r.error!.mayHaveRun);
  t.ok(neverRan.some((r) => r.method === 'Mutate'), `non-idempotent calls refused before they ran were seen (${neverRan.length} never-ran failures)`);
  t.ok(neverRan.every((r) => r.decision === 'retry'), 'and every never-ran failure was retried');
  t.same(neverRan.map((r) => r.error!.code).filter((c) => c !== Code.UNAVAILABLE), [], 'as UNAVAILABLE');

  const served = await Promise.all(survivors.map((p) => p.stats()));
  t.ok(served.some((s) => (s.attempts['2'] ?? 0) > 0), 'the survivors served retries as attempt 2');
});
