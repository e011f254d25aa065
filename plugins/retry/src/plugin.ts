import { InterceptorOrder, definePlugin, type Plugin } from '@trellis/core';
import { recordEndpoint } from './call-retry.js';
import { ClientRuntime } from './client-runtime.js';
import { resolveRetryOptions, type RetryOptions } from './options.js';
import type { BudgetSnapshot } from './retry-budget.js';
import { retryInterceptor } from './retry-interceptor.js';
import { retryPolicy } from './retry-policy.js';

export interface RetryPlugin extends Plugin {
  /** The retry budget of each open client this plugin is set up on (undefined with `budget: false`). */
  budgets(): readonly (BudgetSnapshot | undefined)[];
}

/**
 * Deadline-safe retries with a retry budget and optional backup requests:
 * `client.use(retry())` or `new RpcClient({ …, plugins: [retry({ hedge: { delayMs: 50 } })] })`.
 * Options are checked here; per-method names are checked against the service when a client starts.
 */
export function retry(options: RetryOptions = {}): RetryPlugin {
  const resolved = resolveRetryOptions(options);
  const live = new Set<ClientRuntime>();
  return definePlugin({
    meta: { name: '@trellis/retry', kernel: '^0.1.0' },
    budgets: () => [...live].map((runtime) => runtime.budget?.snapshot()),
    setupClient(context) {
      const runtime = new ClientRuntime(context, resolved);
      live.add(runtime);
      context.addInspector('@trellis/retry', () => ({ budget: runtime.budget?.snapshot() }));
      const subscription = context.onEndpoints((endpoints) => {
        runtime.endpoints = endpoints;
      });
      // Unary calls: the kernel runs the attempts and asks the policy (no promise layer); hedged calls
      // and streams keep the interceptor (a backup races an attempt in flight; a stream's set-up is a
      // promise anyway).
      context.setRetryPolicy(retryPolicy(runtime));
      context.addInterceptor(retryInterceptor(runtime, false), InterceptorOrder.RETRY, 'streams');
      if (runtime.hedges) context.addInterceptor(retryInterceptor(runtime, true), InterceptorOrder.RETRY, 'unary');
      context.observe(recordEndpoint(runtime));
      context.onClose(() => {
        subscription.dispose();
        live.delete(runtime);
      });
    },
  });
}
