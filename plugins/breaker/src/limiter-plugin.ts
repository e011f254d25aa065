import { ServerInterceptorOrder, definePlugin, type Plugin } from '@trellis/core';
import type { Clock, ServiceQuery } from '@trellis/core/spi';
import { documentRules, warnRuleError } from '@trellis/rules';
import { LIMITS_DOCUMENT_SPEC } from './document-specs.js';
import { DEFAULT_FAILURE_CODES, failurePredicate, parseCodes } from './failure-codes.js';
import type { GateSnapshot } from './limit-gate.js';
import { validateLimiterOptions, type LimiterOptions } from './limiter-options.js';
import { MethodLimits } from './method-limits.js';
import { ServerLimits } from './server-limits.js';

/** An admitted call's permits under a limiter with its own clock: when it was admitted on that clock. */
interface OwnClockHold {
  readonly limits: MethodLimits;
  readonly started: number;
}

export interface LimiterPlugin extends Plugin {
  /** Every gate (service or method scope) of every server this plugin is set up on. */
  snapshot(): GateSnapshot[];
}

/**
 * Server-side load shedding: token-bucket rate limits (per service, per method, per caller) and
 * concurrency limits (fixed, or brpc's adaptive one), as a server gate at
 * ServerInterceptorOrder.RATE_LIMIT (before the handler, no interceptor layer). A turned-away call fails with RESOURCE_EXHAUSTED and
 * mayHaveRun false, so a client's retry may send it to another provider.
 */
export function limiter(options: LimiterOptions = {}): LimiterPlugin {
  validateLimiterOptions(options);
  const isFailure = options.isFailure ?? failurePredicate(options.failureCodes === undefined ? DEFAULT_FAILURE_CODES : parseCodes('failureCodes', options.failureCodes));
  const report = options.onError ?? warnRuleError;
  const live = new Set<ServerLimits>();
  return definePlugin({
    // Its own name: a server may use limiter() next to a client-side breaker() of the same package.
    meta: { name: '@trellis/breaker/limiter', kernel: '^0.1.0' },
    snapshot: () => [...live].flatMap((limits) => limits.snapshot()),
    setupServer(ctx) {
      const clock: Clock = options.clock ?? ctx.clock;
      // Each service's live `limits` document, followed by @trellis/rules (disposed with the server).
      const limits = new ServerLimits(options, clock, isFailure, (service) => documentRules(ctx, LIMITS_DOCUMENT_SPEC, {
        service: service.query,
        document: typeof options.config === 'string' ? options.config : undefined,
        live: options.config !== false,
        target: service.rules,
        compile: service.compile,
        onError: report,
      }));
      // Every service is added before start(): follow their documents now, so limits are in force before the first call.
      const served = (ctx.inspect().kernel as { services?: readonly ServiceQuery[] }).services ?? [];
      for (const service of served) limits.prepare(service);
      live.add(limits);
      ctx.addInspector('@trellis/breaker/limiter', () => limits.snapshot());
      // A server gate, no interceptor layer: admission before the handler, permits given back in
      // callEnd. On the server's clock the kernel's readings (start, latency) serve; a limiter with a
      // clock of its own reads it, as before.
      const ownClock = clock !== ctx.clock;
      ctx.addGate<MethodLimits | OwnClockHold>({
        admit(call, startedAt) {
          const gates = limits.forCall(call);
          if (gates === undefined) return undefined;
          const started = ownClock ? clock.now() : startedAt;
          gates.admit(call, started);
          if (!gates.limitsConcurrency) return undefined;
          return ownClock ? { limits: gates, started } : gates;
        },
        callEnd(end, held) {
          if (held === undefined) return;
          if (held instanceof MethodLimits) held.release(end.startedAt, end.startedAt + end.latencyMs, end);
          else held.limits.release(held.started, clock.now(), end);
        },
      }, ServerInterceptorOrder.RATE_LIMIT);
      ctx.onClose(() => {
        live.delete(limits);
      });
    },
  });
}
