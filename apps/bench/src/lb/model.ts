/**
 * The load test's scenarios replayed on a virtual clock: the real balancers, 50 callers, service
 * times plus a fixed 0.1 ms for the network and both ends' per-call work. No machine noise, so it
 * shows how the algorithms themselves react; the measured run shows what they do on this machine.
 *
 *  - 1/2/3 ms: exact service times, then reversed, then the busiest provider frozen (it answers
 *    nothing until resumed; its calls fail with DEADLINE_EXCEEDED at the per-call timeout, fed back
 *    as the kernel does) and resumed.
 *  - equal: 2 ms ± the jitter on every provider (seeded), a warm-up and a steady phase.
 */
import { Code, RpcError, type Endpoint, type LoadBalancer, type Pick } from '@trellis/core';
import type { Clock } from '@trellis/core/spi';
import { BRPC_EXACT_OPTIONS, LocalityAwareBalancer, type LalbOptions } from '@trellis/lb-lalb';
import { P2cBalancer } from '@trellis/lb-p2c';
import { seededRandom, testInvocation } from '@trellis/testkit';
import { CallLog } from './call-log.js';
import type { PhaseKind } from './scenario.js';

export const MODEL_OVERHEAD_MS = 0.1;

/** LALB options that switch off Trellis's additions: brpc's algorithm exactly. */
export const BRPC_EXACT: LalbOptions = BRPC_EXACT_OPTIONS;

/** A balancer for the model, on its virtual clock and seeded random source. */
export type ModelBalancer = (clock: Clock, random: () => number) => LoadBalancer;

export const modelBalancers = (lalbOptions: LalbOptions): Record<'lalb' | 'brpc' | 'p2c', ModelBalancer> => ({
  lalb: (clock, random) => new LocalityAwareBalancer({ ...lalbOptions, clock, random }),
  brpc: (clock, random) => new LocalityAwareBalancer({ ...BRPC_EXACT, clock, random }),
  p2c: (clock, random) => new P2cBalancer({ clock, random }),
});

export interface ModelSettings {
  readonly callers: number;
  readonly timeoutMs: number;
  readonly warmupMs: number;
  readonly steadyMs: number;
  readonly maxReverseMs: number;
  readonly freezeMs: number;
  readonly maxResumeMs: number;
  readonly settledMs: number;
  /** The equal scenario's service times: delay × [1 − jitter, 1 + jitter]. */
  readonly jitter: number;
}

export interface ModelResult {
  readonly log: CallLog;
  readonly phases: { kind: PhaseKind; from: number; to: number }[];
  readonly fastest: number;
  readonly frozen: number;
  readonly shareBeforeFreeze: number;
}

interface Call {
  readonly start: number;
  readonly provider: number;
  readonly pick: Pick;
  /** When it ends (ok) or fails (timeout). */
  end: number;
  failed: boolean;
}

/** The virtual closed loop: 50 calls always in a heap by end time. */
class Simulation {
  now = 0;
  readonly log = new CallLog();
  /** Service time of a call to provider p sent now (without the overhead). */
  serviceMs: (provider: number) => number;
  frozen = -1;
  frozenUntil = Number.POSITIVE_INFINITY;
  private readonly balancer: LoadBalancer;
  private readonly endpoints: Endpoint[];
  private readonly index: Map<string, number>;
  private readonly heap: Call[] = [];

  constructor(make: ModelBalancer, providers: number, serviceMs: (provider: number) => number, private readonly settings: ModelSettings) {
    this.balancer = make({ now: () => this.now }, seededRandom(6));
    this.endpoints = Array.from({ length: providers }, (_, i) => ({ id: `10.0.0.${i + 1}:7000`, host: `10.0.0.${i + 1}`, port: 7000, weight: 100, version: '1.0.0', tags: {} }));
    this.index = new Map(this.endpoints.map((e, i) => [e.id, i]));
    this.serviceMs = serviceMs;
    for (let i = 0; i < settings.callers; i++) this.start();
  }

  /** Runs until `until`, or until `settled` held for settledMs (checked per 250 ms of completed calls). */
  run(until: number, settled?: (share: number[]) => boolean): number {
    let windowEnd = this.now + 250;
    const counts = new Array<number>(this.endpoints.length).fill(0);
    let held = 0;
    while (this.heap.length > 0 && this.heap[0]!.end <= until) {
      const call = this.pop();
      this.now = call.end;
      if (call.provider === this.frozen && !call.failed && this.now < this.frozenUntil && call.start + this.settings.timeoutMs > this.now) {
        // Frozen: it answers when resumed, unless the caller's timeout comes first.
        call.failed = call.start + this.settings.timeoutMs <= this.frozenUntil;
        call.end = call.failed ? call.start + this.settings.timeoutMs : this.frozenUntil + MODEL_OVERHEAD_MS;
        this.push(call);
        continue;
      }
      const latency = this.now - call.start;
      if (call.failed) call.pick.done({ latencyMs: latency, error: new RpcError(Code.DEADLINE_EXCEEDED, 'deadline exceeded', { mayHaveRun: true }) });
      else call.pick.done({ latencyMs: latency });
      this.log.add(call.start, latency, call.provider, call.failed ? Code.DEADLINE_EXCEEDED : Code.OK);
      counts[call.provider]!++;
      if (this.now >= windowEnd) {
        const total = counts.reduce((a, c) => a + c, 0);
        held = settled && total > 0 && settled(counts.map((c) => c / total)) ? held + 250 : 0;
        counts.fill(0);
        windowEnd += 250;
        if (settled && held >= this.settings.settledMs) return this.now;
      }
      this.start();
    }
    this.now = until;
    return this.now;
  }

  private start(): void {
    const pick = this.balancer.pick(this.endpoints, testInvocation({ deadline: this.now + this.settings.timeoutMs }))!;
    const provider = this.index.get(pick.endpoint.id)!;
    this.push({ start: this.now, provider, pick, end: this.now + this.serviceMs(provider) + MODEL_OVERHEAD_MS, failed: false });
  }

  private push(call: Call): void {
    const heap = this.heap;
    let i = heap.push(call) - 1;
    while (i > 0 && heap[(i - 1) >> 1]!.end > call.end) {
      heap[i] = heap[(i - 1) >> 1]!;
      i = (i - 1) >> 1;
    }
    heap[i] = call;
  }

  private pop(): Call {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= heap.length) break;
        const c = l + 1 < heap.length && heap[l + 1]!.end < heap[l]!.end ? l + 1 : l;
        if (heap[c]!.end >= last.end) break;
        heap[i] = heap[c]!;
        i = c;
      }
      heap[i] = last;
    }
    return top;
  }
}

/** The 1/2/3 ms scenario: steady, reversed, the busiest frozen, resumed. */
export function runModel(settings: ModelSettings, delaysMs: readonly number[], reversedMs: readonly number[], make: ModelBalancer): ModelResult {
  let delays = delaysMs;
  const sim = new Simulation(make, delaysMs.length, (p) => delays[p]!, settings);
  const phases: ModelResult['phases'] = [];
  const phase = (kind: PhaseKind, maxMs: number, settled?: (share: number[]) => boolean) => {
    const from = sim.now;
    phases.push({ kind, from, to: sim.run(from + maxMs, settled) });
  };
  phase('steady', settings.steadyMs);
  delays = reversedMs;
  const fastest = reversedMs.indexOf(Math.min(...reversedMs));
  phase('reverse', settings.maxReverseMs, (share) => share[fastest]! > 0.5);
  const before = sharesOf(sim.log, delaysMs.length, sim.now - 1000, sim.now);
  const frozen = before.indexOf(Math.max(...before));
  sim.frozen = frozen;
  sim.frozenUntil = sim.now + settings.freezeMs;
  phase('freeze', settings.freezeMs);
  sim.frozenUntil = sim.now;
  phase('resume', settings.maxResumeMs, (share) => share[frozen]! >= before[frozen]! / 2);
  return { log: sim.log, phases, fastest, frozen, shareBeforeFreeze: before[frozen]! };
}

/** The equal scenario: every provider at `delayMs` ± the jitter, a warm-up and a steady phase. */
export function runEqualModel(settings: ModelSettings, providers: number, delayMs: number, make: ModelBalancer): { log: CallLog; steady: { from: number; to: number } } {
  const random = seededRandom(17);
  const sim = new Simulation(make, providers, () => delayMs * (1 - settings.jitter + 2 * settings.jitter * random()), settings);
  sim.run(settings.warmupMs);
  const from = sim.now;
  return { log: sim.log, steady: { from, to: sim.run(from + settings.steadyMs) } };
}

function sharesOf(log: CallLog, providers: number, from: number, to: number): number[] {
  const counts = new Array<number>(providers).fill(0);
  for (let i = 0; i < log.size; i++) if (log.start[i]! >= from && log.start[i]! < to) counts[log.provider[i]!]!++;
  const total = counts.reduce((a, c) => a + c, 0);
  return counts.map((c) => (total === 0 ? 0 : c / total));
}
