import { Code, RpcError, type Attempt, type CallObserver, type Endpoint, type Invocation, type Router } from '@trellis/core';
import { RouterOrder, type Clock } from '@trellis/core/spi';
import { formatMs, NORMAL, REJECT, type Circuit, type Permit } from './circuit.js';
import type { CircuitSet } from './circuit-set.js';
import type { BreakerConfig } from './breaker-config.js';
import { classify, Outcome } from './failure-codes.js';

/** What an attempt that did not get a plain NORMAL permit holds until it ends. */
interface Held {
  readonly circuit: Circuit;
  readonly permit: Permit;
  /** On the breaker's own clock, when it has one (tests) and the circuit judges slow calls. */
  readonly started: number;
}

/**
 * Per-endpoint circuits. A call observer records each attempt's outcome against the endpoint that
 * served it (in the kernel's flow: no interceptor layer); the router (at RouterOrder.BREAKER) hides
 * open and half-open endpoints from the balancer, and steers the next call to a half-open endpoint
 * whose probe slot is free — its probe — one probe at a time.
 * When every endpoint is open the call fails fast with UNAVAILABLE naming them, instead of the
 * kernel's "none usable".
 *
 * The router is the gate: a balancer that ignores the list it is given and picks an open endpoint
 * anyway gets its attempt through, unrecorded (before issue #17 an endpoint interceptor refused it).
 */
export class EndpointBreaker implements Router, CallObserver {
  readonly name = 'breaker';
  readonly order = RouterOrder.BREAKER;
  private lastInput: readonly Endpoint[] | undefined;
  private lastVersion = -1;
  private lastOutput: readonly Endpoint[] = [];
  /** A half-open endpoint ready for its next probe (free slot, none running), as a list of one. */
  private lastProbe: readonly Endpoint[] | undefined;

  /**
   * Attempts holding something other than a plain NORMAL permit — a half-open probe, a REJECT, or
   * (own clock only) a start time: empty while every circuit is closed, so a call costs no entry.
   *
   * Per attempt, from this observer's attemptStart to its attemptEnd of the same send (the kernel
   * keeps one record per attempt), so not the kernel's per-call observer state: a call's attempts go
   * to several endpoints (retries, re-sends), at once when hedged, and whether one is a probe is
   * known only once the router steered it, after callStart. Carrying permits there would need a
   * state object from every callStart — an allocation per call while every circuit is closed.
   */
  private readonly held = new Map<Attempt, Held>();

  /**
   * `ownClock`: the breaker was given a clock that is not the client's (tests); attempts are then
   * timed on it. Otherwise the kernel's attempt times are used and no clock is read per call.
   */
  constructor(
    private readonly circuits: CircuitSet,
    private readonly config: BreakerConfig,
    private readonly clock: Clock,
    private readonly ownClock = false,
  ) {}

  route(list: readonly Endpoint[], invocation: Invocation): readonly Endpoint[] {
    const set = this.circuits;
    if (set.notClosed === 0 || list.length === 0) return list;
    set.poll(this.clock.now());
    if (list !== this.lastInput || set.version !== this.lastVersion) {
      const kept: Endpoint[] = [];
      let probe: Endpoint | undefined;
      for (const endpoint of list) {
        const circuit = set.peek(endpoint.id);
        if (circuit === undefined || circuit.state === 'closed') kept.push(endpoint);
        // A half-open endpoint takes one probe at a time (Finagle's failure accrual probes the same
        // way): probes that all went out at once to a frozen endpoint would each cost a caller its
        // whole deadline.
        else if (probe === undefined && circuit.canProbe && !circuit.probing) probe = endpoint;
      }
      this.lastInput = list;
      this.lastVersion = set.version;
      this.lastOutput = kept.length === list.length ? list : kept;
      this.lastProbe = probe === undefined ? undefined : [probe];
    }
    const excluded = invocation.excluded;
    // Probes are steered: the next call goes to the half-open endpoint alone (its attemptStart takes
    // the probe permit, and the endpoint is hidden again until that probe ends), every other call to
    // the closed ones. Left to the balancer, one that learned to avoid the endpoint (LALB, P2C, a
    // hash that maps elsewhere) would never probe it, and it would stay half-open for good.
    const probe = this.lastProbe;
    if (probe !== undefined && (excluded === undefined || !excluded.has(probe[0]!.id))) return probe;
    const output = this.lastOutput;
    // (A probe-ready endpoint left over here is one this call already tried: name the untried ones.)
    if (output.length === 0) throw this.allOpen(list, probe === undefined ? undefined : excluded);
    // A retry whose untried endpoints are all open: say so, rather than let the balancer report
    // that every endpoint was already tried (it never saw the open ones).
    if (excluded !== undefined && excluded.size !== 0 && output !== list && output.every((e) => excluded.has(e.id))) throw this.allOpen(list, excluded);
    return output;
  }

  attemptStart(attempt: Attempt): void {
    const config = this.config.current;
    const settings = config.endpoint;
    if (settings === undefined || !config.enabled) return;
    const circuit = this.circuits.get(attempt.endpoint.id, settings);
    const timed = this.ownClock && circuit.measuresLatency;
    if (circuit.state === 'closed' && !timed) return; // NORMAL, nothing to hold
    const now = this.clock.now();
    const permit = circuit.acquire(now);
    if (permit !== NORMAL || timed) this.held.set(attempt, { circuit, permit, started: now });
  }

  attemptEnd(attempt: Attempt): void {
    let held: Held | undefined;
    if (this.held.size !== 0 && (held = this.held.get(attempt)) !== undefined) this.held.delete(attempt);
    if (held?.permit === REJECT) return; // an open endpoint a balancer picked against the router's list
    let circuit: Circuit | undefined;
    if (held !== undefined) {
      circuit = held.circuit;
    } else {
      const config = this.config.current;
      if (config.endpoint === undefined || !config.enabled) return;
      circuit = this.circuits.peek(attempt.endpoint.id);
      if (circuit === undefined) return;
    }
    const error = attempt.error;
    // Every circuit closed, the attempt answered: the fast path, no allocation.
    if (error === undefined && held === undefined && !this.ownClock && circuit.succeededClosed(attempt.startedAt + attempt.latencyMs, attempt.latencyMs)) return;
    const outcome = error === undefined ? Outcome.SUCCESS : classify(error, this.config.isFailure);
    if (this.ownClock) {
      const now = this.clock.now();
      // Not held: the kernel's latency (real time) places the attempt's start on the breaker's clock.
      circuit.onResult(now, held?.permit ?? NORMAL, outcome, held === undefined ? attempt.latencyMs : now - held.started);
    } else {
      circuit.onResult(attempt.startedAt + attempt.latencyMs, held?.permit ?? NORMAL, outcome, attempt.latencyMs);
    }
  }

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
