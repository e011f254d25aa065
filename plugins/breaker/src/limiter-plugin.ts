import { ServerInterceptorOrder, definePlugin, type Plugin } from '@trellis/core';
import type { Clock } from '@trellis/core/spi';
import { warn, watchDocument } from './config-watch.js';
import { DEFAULT_FAILURE_CODES, failurePredicate, parseCodes } from './failure-codes.js';
import type { GateSnapshot } from './limit-gate.js';
import { validateLimiterOptions, type LimiterOptions } from './limiter-options.js';
import { LIMITS_DOCUMENT } from './live-documents.js';
import { ServerLimits } from './server-limits.js';

export interface LimiterPlugin extends Plugin {
  /** Every gate (service or method scope) of every server this plugin is set up on. */
  snapshot(): GateSnapshot[];
}

/**
 * Server-side load shedding: token-bucket rate limits (per service, per method, per caller) and
 * concurrency limits (fixed, or brpc's adaptive one), as a server interceptor at
 * ServerInterceptorOrder.RATE_LIMIT. A turned-away call fails with RESOURCE_EXHAUSTED and
 * mayHaveRun false, so a client's retry may send it to another provider.
 */
export function limiter(options: LimiterOptions = {}): LimiterPlugin {
  validateLimiterOptions(options);
  const isFailure = options.isFailure ?? failurePredicate(options.failureCodes === undefined ? DEFAULT_FAILURE_CODES : parseCodes('failureCodes', options.failureCodes));
  const report = options.onError ?? warn;
  const live = new Set<ServerLimits>();
  return definePlugin({
    // Its own name: a server may use limiter() next to a client-side breaker() of the same package.
    meta: { name: '@trellis/breaker/limiter', kernel: '^0.1.0' },
    snapshot: () => [...live].flatMap((limits) => limits.snapshot()),
    setupServer(ctx) {
      const clock: Clock = options.clock ?? ctx.clock;
      const documentName = options.config === false ? undefined : typeof options.config === 'string' ? options.config : LIMITS_DOCUMENT;
      const limits = new ServerLimits(
        options,
        clock,
        isFailure,
        documentName === undefined ? undefined : (query, apply) => watchDocument(ctx.registry, query, documentName, { apply, report }),
      );
      live.add(limits);
      ctx.addInspector('@trellis/breaker/limiter', () => limits.snapshot());
      ctx.addInterceptor((next) => (call) => {
        const gates = limits.forCall(call);
        return gates === undefined ? next(call) : gates.run(call, next);
      }, ServerInterceptorOrder.RATE_LIMIT);
      ctx.onClose(() => {
        limits.close();
        live.delete(limits);
      });
    },
  });
}
