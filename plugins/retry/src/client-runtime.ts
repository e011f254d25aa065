import type { Endpoint, MethodDescriptor } from '@trellis/core';
import { DeadlineTimer, type ClientPluginContext } from '@trellis/core/spi';
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
  private readonly methods = new Map<string, MethodRuntime>();
  private lastDescriptor: MethodDescriptor | undefined = undefined;
  private lastMethod: MethodRuntime | undefined = undefined;

  constructor(readonly context: ClientPluginContext, readonly options: ResolvedRetryOptions) {
    const clock = context.clock;
    this.budget = options.budget === undefined ? undefined : new RetryBudget(options.budget, clock);
    this.timer = new DeadlineTimer(() => clock.now());
    const byName = new Map<string, MethodRuntime>();
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
      byName.set(method.name, {
        name: `${context.definition.name}/${method.name}`,
        policy,
        hedge,
        hedgeBudget: hedge === undefined ? undefined : new RetryBudget(hedge.budget, clock),
        latency: hedge?.percentile === undefined ? undefined : new LatencyTracker(hedge.percentile, hedge.minSamples),
      });
    }
    this.methods = byName;
    this.hedges = [...byName.values()].some((m) => m.hedgeBudget !== undefined);
  }

  method(descriptor: MethodDescriptor): MethodRuntime | undefined {
    // A client calls the same few methods again and again: the same descriptor object skips the Map.
    if (descriptor === this.lastDescriptor) return this.lastMethod;
    const method = this.methods.get(descriptor.name);
    this.lastDescriptor = descriptor;
    this.lastMethod = method;
    return method;
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
