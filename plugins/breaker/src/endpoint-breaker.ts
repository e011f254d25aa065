import { Code, RpcError, type Endpoint, type EndpointInterceptor, type Invocation, type Router } from '@trellis/core';
import { RouterOrder, type Clock } from '@trellis/core/spi';
import { formatMs, REJECT, type Circuit } from './circuit.js';
import type { CircuitSet } from './circuit-set.js';
import type { BreakerConfig } from './breaker-config.js';
import { recordOutcome } from './record-outcome.js';

/** The endpoint interceptor's slot: outermost below the balancer, so it sees what the wire did. */
export const ENDPOINT_INTERCEPTOR_ORDER = 100;

/**
 * Per-endpoint circuits. The endpoint interceptor records each attempt's outcome against the endpoint
 * that served it; the router (at RouterOrder.BREAKER) hides open endpoints from the balancer, and
 * shows a half-open one only between its probes, one at a time. When every endpoint is open the call
 * fails fast with UNAVAILABLE naming them, instead of the kernel's "none usable".
 */
export class EndpointBreaker implements Router {
  readonly name = 'breaker';
  readonly order = RouterOrder.BREAKER;
  private lastInput: readonly Endpoint[] | undefined;
  private lastVersion = -1;
  private lastOutput: readonly Endpoint[] = [];

  constructor(
    private readonly circuits: CircuitSet,
    private readonly config: BreakerConfig,
    private readonly clock: Clock,
  ) {}

  route(list: readonly Endpoint[], invocation: Invocation): readonly Endpoint[] {
    const set = this.circuits;
    if (set.notClosed === 0 || list.length === 0) return list;
    set.poll(this.clock.now());
    if (list !== this.lastInput || set.version !== this.lastVersion) {
      const kept: Endpoint[] = [];
      for (const endpoint of list) {
        const circuit = set.peek(endpoint.id);
        // A half-open endpoint takes one probe at a time (Finagle's failure accrual probes the same
        // way): probes that all went out at once to a frozen endpoint would each cost a caller its
        // whole deadline.
        if (circuit === undefined || circuit.state === 'closed' || (circuit.canProbe && !circuit.probing)) kept.push(endpoint);
      }
      this.lastInput = list;
      this.lastVersion = set.version;
      this.lastOutput = kept.length === list.length ? list : kept;
    }
    const output = this.lastOutput;
    if (output.length === 0) throw this.allOpen(list, undefined);
    // A retry whose untried endpoints are all open: say so, rather than let the balancer report
    // that every endpoint was already tried (it never saw the open ones).
    const excluded = invocation.excluded;
    if (excluded !== undefined && excluded.size !== 0 && output !== list && output.every((e) => excluded.has(e.id))) throw this.allOpen(list, excluded);
    return output;
  }

  readonly interceptor: EndpointInterceptor = (next) => (invocation, endpoint) => {
    const settings = this.config.current.endpoint;
    if (settings === undefined || !this.config.current.enabled) return next(invocation, endpoint);
    const circuit = this.circuits.get(endpoint.id, settings);
    const started = this.clock.now();
    const permit = circuit.acquire(started);
    if (permit === REJECT) {
      // Only reachable when the balancer ignores the router's list; "never ran" lets the kernel
      // re-send the call to another endpoint.
      return Promise.reject(new RpcError(Code.UNAVAILABLE, `circuit ${circuit.state} for endpoint ${endpoint.id} of ${invocation.method.service}`, { mayHaveRun: false }));
    }
    return recordOutcome(next(invocation, endpoint), circuit, permit, started, this.clock, this.config.isFailure);
  };

  /** Every provider open (excluded undefined), or every one this call has not tried yet. */
  private allOpen(list: readonly Endpoint[], excluded: ReadonlySet<string> | undefined): RpcError {
    const now = this.clock.now();
    const untried = excluded === undefined ? list : list.filter((e) => !excluded.has(e.id));
    const states = untried.map((e) => `${e.id} ${describe(this.circuits.peek(e.id), now)}`).join(', ');
    const which = excluded === undefined ? 'every provider' : 'every provider this call has not tried yet';
    return new RpcError(Code.UNAVAILABLE, `circuit open for ${which} of ${this.circuits.service}: ${states}`, { mayHaveRun: false });
  }
}

function describe(circuit: Circuit | undefined, now: number): string {
  if (circuit === undefined || circuit.state === 'closed') return 'closed';
  if (circuit.state === 'half-open') return '(half-open, probes in flight)';
  return `(open, half-open in ${formatMs(Math.max(0, circuit.openUntil - now))})`;
}
