import type { Endpoint, MethodDescriptor } from '@trellis/core';
import { DeadlineTimer, type ClientPluginContext } from '@trellis/core/spi';
import { LastHitMap } from '@trellis/core/toolkit';
import { LatencyTracker } from './latency-tracker.js';
import { invalid, policyFor, type MethodPolicy, type ResolvedHedge, type ResolvedRetryOptions } from './options.js';
import { RetryBudget } from './retry-budget.js';

/** The policy of one method on one client, with its backup budget and latency history. */
export interface MethodRuntime {
  readonly name: string;
  readonly policy: MethodPolicy;
  readonly hedge: ResolvedHedge | undefined;
  readonly hedgeBudget: RetryBudget | undefined;
  readonly latency: LatencyTracker | undefined;
}

/**
 * What the retry plugin keeps per client: the resolved per-method policies, the retry budget (one per
 * client: it measures the load this client offers to the service), the backup timers, and the
 * discovered endpoint list used to tell whether any endpoint is left to try.
 */
export class ClientRuntime {
  readonly budget: RetryBudget | undefined;
  /** One shared timer for all pending backups instead of a setTimeout per call. */
  readonly timer: DeadlineTimer;
  endpoints: readonly Endpoint[] = [];
  /** Some method sends backup requests (the hedging interceptor is needed). */
  readonly hedges: boolean;
  /** By method name, read through the last hit: a client calls the same few methods again and again. */
  private readonly methods = new LastHitMap<string, MethodRuntime>();

  constructor(readonly context: ClientPluginContext, readonly options: ResolvedRetryOptions) {
    const clock = context.clock;
    this.budget = options.budget === undefined ? undefined : new RetryBudget(options.budget, clock);
    this.timer = new DeadlineTimer(() => clock.now());
    const overrides = new Map<string, string>();
    const definitions = Object.values(context.definition.methods);
    for (const key of Object.keys(options.methods)) {
      const method = definitions.find((m) => m.name === key || m.localName === key);
      if (method === undefined) {
        throw invalid(`methods.${key}`, options.methods[key], `a method of ${context.definition.name} (${definitions.map((m) => m.name).join(', ')})`);
      }
      overrides.set(method.name, key);
    }
    for (const method of definitions) {
      const key = overrides.get(method.name);
      const policy = policyFor(options.defaults, method.name, key === undefined ? undefined : options.methods[key]);
      const hedge = policy.hedge;
      this.methods.set(method.name, {
        name: `${context.definition.name}/${method.name}`,
        policy,
        hedge,
        hedgeBudget: hedge === undefined ? undefined : new RetryBudget(hedge.budget, clock),
        latency: hedge?.percentile === undefined ? undefined : new LatencyTracker(hedge.percentile, hedge.minSamples),
      });
    }
    this.hedges = [...this.methods.values()].some((m) => m.hedgeBudget !== undefined);
  }

  method(descriptor: MethodDescriptor): MethodRuntime | undefined {
    return this.methods.get(descriptor.name);
  }

  /** How long to wait for an answer before a backup: the pN latency once known, else `delayMs`. */
  hedgeDelay(method: MethodRuntime): number | undefined {
    return method.latency?.value() ?? method.hedge?.delayMs;
  }

  /**
   * True when some discovered endpoint is neither excluded nor dead. Routers may narrow further; an
   * attempt that then finds nothing is caught afterwards (its error does not come from an endpoint).
   */
  hasCandidate(excluded: ReadonlySet<string>): boolean {
    const health = this.context.health;
    for (const endpoint of this.endpoints) {
      if (!excluded.has(endpoint.id) && health.state(endpoint) !== 'dead') return true;
    }
    return false;
  }
}
