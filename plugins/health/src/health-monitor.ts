import { performance } from 'node:perf_hooks';
import { Code, RpcError, type Endpoint, type EndpointState, type EndpointStateChange, type HealthView } from '@trellis/core';
import { ExponentialBackoff, type Clock, type ClientTransport, type ConnectionEvent, type ConnectionState, type Disposable } from '@trellis/core/spi';
import { LastHitMap } from '@trellis/core/toolkit';
import { AvailabilityWindow } from './availability-window.js';
import type { EndpointHealth, HealthEvents } from './health-events.js';
import type { LoopStallMonitor } from './loop-stall-monitor.js';
import type { ResolvedHealthOptions } from './options.js';

/** What the monitor knows about one endpoint of the directory. */
interface Tracked {
  endpoint: Endpoint;
  state: EndpointState;
  reason: string;
  since: number;
  /** The connection cannot be established (dial failing) or the provider said GOAWAY. */
  down: boolean;
  downReason: string;
  /** Heartbeats failed in a row; discounted ones neither count nor reset. */
  failures: number;
  lastError: string;
  lastRttMs: number | undefined;
  /** Availability below the threshold at the last evaluation. */
  low: boolean;
  lowReason: string;
  window: AvailabilityWindow | undefined;
  timer: NodeJS.Timeout | undefined;
  inflight: boolean;
  /** Spaces the probes of a dead endpoint out; reset when it connects. */
  readonly backoff: ExponentialBackoff;
  probeDelayMs: number;
  /** Wall-clock ms of the last return from dead (0: never); the warm-up ramp restarts from it. */
  rampFrom: number;
}

function connectionDown(state: ConnectionState): boolean {
  return state === 'backoff' || state === 'draining' || state === 'closed';
}

function percent(ratio: number): string {
  return `${Math.round(ratio * 1000) / 10} %`;
}

/**
 * The health plugin's HealthView for one client: heartbeats every connected endpoint, probes dead
 * ones on an exponential backoff, keeps a time-bucketed availability window per endpoint, and turns
 * all of that into healthy / sub-healthy / dead with events on every change.
 *
 * State is derived, never set directly: dead while the connection is down; else sub-healthy while
 * `failureThreshold` heartbeats in a row failed or availability is low; else healthy.
 */
export class HealthMonitor implements HealthView {
  version = 0;
  // Read through the record looked up last: a client whose calls mostly go to one endpoint (or the
  // same one twice in a row) skips the Map look-up. An endpoint that left (deleted) is never found.
  private readonly tracked = new LastHitMap<string, Tracked>();
  private readonly listeners = new Set<(change: EndpointStateChange) => void>();
  private readonly subscription: Disposable;
  private closed = false;

  constructor(
    private readonly transport: ClientTransport,
    private readonly options: ResolvedHealthOptions,
    private readonly clock: Clock,
    private readonly events: HealthEvents,
    readonly service: string,
    private readonly stalls: LoopStallMonitor | undefined,
  ) {
    this.subscription = transport.onStateChange((event) => this.onConnection(event));
  }

  state(endpoint: Endpoint): EndpointState {
    const tracked = this.tracked.get(endpoint.id);
    if (tracked !== undefined) return tracked.state;
    return connectionDown(this.transport.state(endpoint)) ? 'dead' : 'healthy';
  }

  onChange(listener: (change: EndpointStateChange) => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  /** Wall-clock ms from which an endpoint's warm-up ramp runs: its start, or its last recovery. */
  rampStart(endpoint: Endpoint): number {
    const from = this.tracked.get(endpoint.id)?.rampFrom ?? 0;
    return Math.max(endpoint.startedAt ?? 0, from);
  }

  /** The directory's list changed: start watching new endpoints, forget the ones that left. */
  setEndpoints(endpoints: readonly Endpoint[]): void {
    if (this.closed) return;
    const listed = new Set<string>();
    for (const endpoint of endpoints) {
      listed.add(endpoint.id);
      const known = this.tracked.get(endpoint.id);
      if (known !== undefined) {
        known.endpoint = endpoint;
        continue;
      }
      const tracked = this.track(endpoint);
      this.tracked.set(endpoint.id, tracked);
      // Dial and heartbeat at once: a dead address is then known before a call is sent to it.
      if (tracked.down) this.schedule(tracked, this.nextProbeDelay(tracked));
      else this.schedule(tracked, 0);
    }
    for (const [id, tracked] of this.tracked) {
      if (listed.has(id)) continue;
      this.cancel(tracked);
      this.tracked.delete(id);
    }
  }

  /**
   * Feeds the availability window with one send's outcome; `durationMs` is how long it took, so a
   * failure that overlapped a stall of this process's own loop (the answer may have sat unread in the
   * socket) is not held against the endpoint. `endedAt`: when it ended on the monitor's clock, if the
   * caller knows (the kernel's attempt record does: a clock read less per call).
   */
  recordOutcome(endpoint: Endpoint, error: RpcError | undefined, durationMs: number, endedAt?: number): void {
    const tracked = this.tracked.get(endpoint.id);
    const window = tracked?.window;
    if (window === undefined) return;
    let ok = true;
    if (error !== undefined) {
      if (error.code === Code.CANCELLED) return; // the caller gave up: says nothing about the endpoint
      if (this.options.availability!.codes.has(error.code)) {
        // The caller's own budget ran out before anything was sent.
        if (error.code === Code.DEADLINE_EXCEEDED && !error.mayHaveRun) return;
        if (this.stalls !== undefined) {
          const end = performance.now();
          if (this.stalls.overlaps(end - durationMs, end)) return;
        }
        ok = false;
      }
    }
    const now = endedAt ?? this.clock.now();
    window.record(now, ok);
    if (!ok || tracked!.low) this.evaluateAvailability(tracked!, now);
  }

  /** Heartbeats (or probes) every endpoint now, instead of waiting for its next turn. */
  checkNow(): void {
    for (const tracked of this.tracked.values()) {
      if (tracked.inflight) continue;
      this.cancel(tracked);
      this.beat(tracked);
    }
  }

  snapshot(): EndpointHealth[] {
    const now = this.clock.now();
    return [...this.tracked.values()].map((t) => ({
      service: this.service,
      endpoint: t.endpoint,
      state: t.state,
      reason: t.reason,
      since: t.since,
      heartbeatFailures: t.failures,
      lastRttMs: t.lastRttMs,
      availability: t.window?.totals(now),
    }));
  }

  close(): void {
    this.closed = true;
    this.subscription.dispose();
    for (const tracked of this.tracked.values()) this.cancel(tracked);
    this.tracked.clear();
    this.listeners.clear();
  }

  private track(endpoint: Endpoint): Tracked {
    const connection = this.transport.state(endpoint);
    const down = connectionDown(connection);
    const availability = this.options.availability;
    return {
      endpoint,
      state: down ? 'dead' : 'healthy',
      reason: down ? `connection is ${connection}` : 'discovered',
      since: Date.now(),
      down,
      downReason: down ? `connection is ${connection}` : '',
      failures: 0,
      lastError: '',
      lastRttMs: undefined,
      low: false,
      lowReason: '',
      window: availability === undefined ? undefined : new AvailabilityWindow(availability.windowMs, availability.buckets),
      timer: undefined,
      inflight: false,
      backoff: new ExponentialBackoff(this.options.redial),
      probeDelayMs: 0,
      rampFrom: 0,
    };
  }

  private cancel(tracked: Tracked): void {
    if (tracked.timer !== undefined) clearTimeout(tracked.timer);
    tracked.timer = undefined;
  }

  private schedule(tracked: Tracked, delayMs: number): void {
    this.cancel(tracked);
    tracked.timer = setTimeout(() => {
      tracked.timer = undefined;
      this.beat(tracked);
    }, Math.max(0, delayMs));
    // Heartbeats must not keep a process alive whose client was never closed.
    tracked.timer.unref();
  }

  private nextProbeDelay(tracked: Tracked): number {
    tracked.probeDelayMs = tracked.backoff.next();
    return tracked.probeDelayMs;
  }

  /** One heartbeat of a connected endpoint, or one probe (which dials) of a dead one. */
  private beat(tracked: Tracked): void {
    if (this.closed || tracked.inflight || this.tracked.get(tracked.endpoint.id) !== tracked) return;
    tracked.inflight = true;
    const probe = tracked.down;
    const started = performance.now();
    let pinged: Promise<number>;
    try {
      pinged = this.transport.ping(tracked.endpoint, this.options.timeoutMs);
    } catch (error) {
      pinged = Promise.reject(error); // a custom transport that throws must not break the timer chain
    }
    pinged.then(
      (rtt) => this.afterBeat(tracked, probe, started, rtt, undefined),
      (error: unknown) => this.afterBeat(tracked, probe, started, undefined, RpcError.from(error)),
    );
  }

  private afterBeat(tracked: Tracked, probe: boolean, started: number, rtt: number | undefined, error: RpcError | undefined): void {
    tracked.inflight = false;
    if (this.closed || this.tracked.get(tracked.endpoint.id) !== tracked) return;
    const connection = this.transport.state(tracked.endpoint);
    // A draining connection still answers PINGs, but the provider is leaving: the transport has the last word.
    const unreachable = connectionDown(connection) || (error?.code === Code.UNAVAILABLE && !error.mayHaveRun);
    let discounted = false;
    if (error === undefined && !unreachable) {
      tracked.failures = 0;
      tracked.lastRttMs = rtt;
      if (tracked.down) this.markUp(tracked, 'heartbeat answered after reconnecting');
      else if (tracked.low) this.evaluateAvailability(tracked, this.clock.now());
      this.update(tracked, 'heartbeats answered again');
    } else if (unreachable) {
      this.markDown(tracked, error?.message ?? `connection is ${connection}`);
    } else {
      discounted = this.stalls?.overlaps(started, performance.now()) ?? false;
      if (!discounted) {
        tracked.failures++;
        tracked.lastError = error!.message;
        this.update(tracked, '');
      }
      // Low availability also ends by ageing out; heartbeats are its clock when no call comes.
      if (tracked.low) this.evaluateAvailability(tracked, this.clock.now());
    }
    this.emitBeat(tracked, probe, rtt, error, discounted);
    if (tracked.timer !== undefined) return; // a transport event already rescheduled it
    if (tracked.down) this.schedule(tracked, this.nextProbeDelay(tracked));
    else this.schedule(tracked, started + this.options.intervalMs - performance.now());
  }

  private onConnection(event: ConnectionEvent): void {
    const tracked = this.tracked.get(event.endpoint.id);
    if (tracked === undefined || this.closed) return;
    if (event.state === 'ready') {
      if (tracked.down) {
        this.markUp(tracked, 'reconnected');
        // Confirm with a heartbeat right away rather than after a whole probe delay.
        if (!tracked.inflight) this.schedule(tracked, 0);
      }
    } else if (event.state === 'backoff' || event.state === 'draining') {
      const wasDown = tracked.down;
      this.markDown(tracked, event.reason);
      if (!wasDown && !tracked.inflight) this.schedule(tracked, this.nextProbeDelay(tracked));
    }
  }

  private markUp(tracked: Tracked, reason: string): void {
    tracked.down = false;
    tracked.failures = 0;
    tracked.backoff.reset();
    this.update(tracked, reason);
  }

  private markDown(tracked: Tracked, reason: string): void {
    tracked.downReason = reason;
    if (tracked.down) return;
    tracked.down = true;
    this.update(tracked, reason);
  }

  private evaluateAvailability(tracked: Tracked, now: number): void {
    const rule = this.options.availability;
    if (rule === undefined || tracked.window === undefined) return;
    const { calls, successes } = tracked.window.totals(now);
    const ratio = calls === 0 ? 1 : successes / calls;
    // Hysteresis: once low, an endpoint must climb halfway from the threshold to 100 % (or its calls
    // age out below minCalls) before it counts as recovered, so a ratio hovering at the threshold
    // does not flap the state with every call.
    const bar = tracked.low ? rule.threshold + (1 - rule.threshold) / 2 : rule.threshold;
    const low = calls >= rule.minCalls && ratio < bar;
    if (low) tracked.lowReason = `availability ${percent(ratio)} < ${percent(rule.threshold)} over the last ${rule.windowMs} ms (${calls} calls)`;
    if (low === tracked.low) return;
    tracked.low = low;
    this.update(tracked, `availability back to ${percent(ratio)} (${calls} calls in the window)`);
  }

  /** Derives the state; `healthyReason` explains a return to healthy. */
  private update(tracked: Tracked, healthyReason: string): void {
    let state: EndpointState;
    let reason: string;
    if (tracked.down) {
      state = 'dead';
      reason = tracked.downReason;
    } else if (tracked.failures >= this.options.failureThreshold) {
      state = 'subhealthy';
      reason = `${tracked.failures} heartbeat${tracked.failures === 1 ? '' : 's'} in a row failed (last: ${tracked.lastError})`;
    } else if (tracked.low) {
      state = 'subhealthy';
      reason = tracked.lowReason;
    } else {
      state = 'healthy';
      reason = healthyReason;
    }
    if (state === tracked.state) return;
    const from = tracked.state;
    tracked.state = state;
    tracked.reason = reason;
    tracked.since = Date.now();
    if (from === 'dead' && this.options.rampOnRecovery) tracked.rampFrom = tracked.since;
    this.version++;
    const change = { endpoint: tracked.endpoint, from, to: state, reason };
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (error) {
        process.emitWarning(`a health view listener threw: ${(error as Error)?.message ?? String(error)}`, 'TrellisWarning');
      }
    }
    this.events.safeEmit('change', { ...change, service: this.service, at: tracked.since });
  }

  private emitBeat(tracked: Tracked, probe: boolean, rtt: number | undefined, error: RpcError | undefined, discounted: boolean): void {
    if (this.events.listenerCount('heartbeat') === 0) return;
    this.events.safeEmit('heartbeat', {
      service: this.service,
      endpoint: tracked.endpoint,
      kind: probe ? 'probe' : 'heartbeat',
      ok: error === undefined,
      rttMs: rtt,
      error: error?.message,
      discounted,
      delayMs: probe ? tracked.probeDelayMs : undefined,
      at: Date.now(),
    });
  }
}
