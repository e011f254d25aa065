import t from 'tap';
import { Code, definePlugin, InterceptorOrder, type Plugin } from '@trellis/core';
import { retry, retryStopReason } from '../src/index.js';
import { attemptLog, echoClient, settle, startProviders } from './fixtures/echo.js';

/**
 * Unary retry runs as the kernel's retry policy (no promise layer) when no interceptor takes unary
 * calls, and as a layer of the interceptor chain when one does. Both forms must make the same
 * decisions: these calls run once in each form against the same failing providers.
 */
function userInterceptor(seen: number[]): Plugin {
  return definePlugin({
    meta: { name: 'test-user-interceptor', kernel: '^0.1.0' },
    setupClient: (ctx) => ctx.addInterceptor((next) => (inv) => (seen.push(inv.attempt), next(inv)), InterceptorOrder.USER),
  });
}

t.test('the same retry decisions with and without an interceptor below retry', async (t) => {
  const providers = await startProviders(t, ['p1', 'p2', 'p3'], { failRate: 1, failCode: Code.UNAVAILABLE });
  const addresses = providers.map((p) => p.address);
  const outcomes: Record<string, { decisions: string[]; endpoints: number[]; reasons: (string | undefined)[]; attemptsSeen: number[] }> = {};
  for (const form of ['kernel policy', 'chain layer']) {
    const log = attemptLog();
    const seen: number[] = [];
    const plugins: Plugin[] = [retry({ maxAttempts: 5, budget: false, backoff: false, onAttempt: log.onAttempt })];
    if (form === 'chain layer') plugins.push(userInterceptor(seen));
    const { stub } = echoClient(t, addresses, { plugins });
    const reasons: (string | undefined)[] = [];
    for (let i = 0; i < 10; i++) {
      const result = await settle(stub.echo({}));
      reasons.push(result.ok ? 'ok' : retryStopReason(result.error));
    }
    outcomes[form] = {
      decisions: log.records.map((r) => `${r.attempt}:${r.outcome}:${r.decision}`),
      // Each call's attempts went to distinct endpoints.
      endpoints: [...new Set(log.records.map((r) => r.call))].map((call) => new Set(log.records.filter((r) => r.call === call).map((r) => r.endpoint!.id)).size),
      reasons,
      attemptsSeen: seen,
    };
  }
  const kernel = outcomes['kernel policy']!;
  const chain = outcomes['chain layer']!;
  t.same(kernel.reasons, Array(10).fill('no-endpoint-left'), 'every call stopped when no untried endpoint was left');
  t.same(kernel.endpoints, Array(10).fill(3), 'three different endpoints per call');
  t.same(kernel.decisions.slice(0, 3), ['1:failed:retry', '2:failed:retry', '3:failed:no-endpoint-left']);
  t.same(chain.reasons, kernel.reasons, 'the chain form stops for the same reasons');
  t.same(chain.decisions, kernel.decisions, 'and records the same attempts and decisions');
  t.same(chain.endpoints, kernel.endpoints);
  t.same(chain.attemptsSeen, Array.from({ length: 10 }, () => [1, 2, 3]).flat(), 'the interceptor below retry saw every attempt');
  t.same(kernel.attemptsSeen, [], '(none in the kernel form: no interceptor there)');
});
