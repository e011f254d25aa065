import { seededRandom } from '@trellis/testkit';
/**
 * The same LALB scenario replayed on a virtual clock: the real LocalityAwareBalancer, 50 callers,
 * service times of exactly 1 / 2 / 3 ms plus a fixed 0.1 ms for the network and both ends' per-call
 * work. No machine noise, so it shows how fast the algorithm itself reacts; the measured run shows
 * what it does on this machine. A frozen provider answers nothing until it is resumed; its calls fail
 * with DEADLINE_EXCEEDED at the per-call timeout, fed back to LALB as the kernel does.
 */
import { Code, ContextValues, RpcError, serviceKey, type Endpoint, type Invocation, type Pick } from '@trellis/core';
import { EMPTY_SET } from '@trellis/core/spi';
import { BRPC_EXACT_OPTIONS, LocalityAwareBalancer, type LalbOptions } from '@trellis/lb-lalb';
import { CallLog } from './call-log.js';
import type { PhaseKind } from './scenario.js';

export const MODEL_OVERHEAD_MS = 0.1;

/** LALB options that switch off Trellis's two additions: brpc's algorithm exactly. */
export const BRPC_EXACT: LalbOptions = BRPC_EXACT_OPTIONS;

export interface ModelSettings {
  readonly callers: number;
  readonly timeoutMs: number;
  readonly steadyMs: number;
  readonly maxReverseMs: number;
  readonly freezeMs: number;
  readonly maxResumeMs: number;
  readonly settledMs: number;
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
  readonly invocation: Invocation;
  /** When it ends (ok) or fails (timeout). */
  end: number;
  failed: boolean;
}


export function runModel(
  settings: ModelSettings,
  delaysMs: readonly number[],
  reversedMs: readonly number[],
  balancerOptions: LalbOptions = {},
): ModelResult {
  let now = 0;
  const balancer = new LocalityAwareBalancer({ ...balancerOptions, clock: { now: () => now }, random: seededRandom(6) });
  const endpoints: Endpoint[] = delaysMs.map((_, i) => ({ id: `10.0.0.${i + 1}:7000`, host: `10.0.0.${i + 1}`, port: 7000, weight: 100, version: '1.0.0', tags: {} }));
  const index = new Map(endpoints.map((e, i) => [e.id, i]));
  const service = serviceKey('trellis.test.EchoService');
  const log = new CallLog();
  let delays = delaysMs;
  let frozen = -1;
  let frozenUntil = Number.POSITIVE_INFINITY;
  // A binary heap of calls by end time; the 50 callers are always 50 calls in it.
  const heap: Call[] = [];
  const push = (call: Call) => {
    let i = heap.push(call) - 1;
    while (i > 0 && heap[(i - 1) >> 1]!.end > call.end) {
      heap[i] = heap[(i - 1) >> 1]!;
      i = (i - 1) >> 1;
    }
    heap[i] = call;
  };
  const pop = (): Call => {
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
  };
  const start = () => {
    const invocation: Invocation = {
      service, method: undefined as never, request: undefined, metadata: new Map(), deadline: now + settings.timeoutMs,
      signal: undefined, attempt: 1, excluded: EMPTY_SET, context: new ContextValues(),
    };
    const pick = balancer.pick(endpoints, invocation)!;
    const provider = index.get(pick.endpoint.id)!;
    push({ start: now, provider, pick, invocation, end: now + delays[provider]! + MODEL_OVERHEAD_MS, failed: false });
  };
  /** Runs until `until`, or until `settled` held for settledMs (checked per 250 ms of completed calls). */
  const run = (until: number, settled?: (share: number[]) => boolean): number => {
    let windowEnd = now + 250;
    const counts = new Array<number>(endpoints.length).fill(0);
    let held = 0;
    while (heap.length > 0 && heap[0]!.end <= until) {
      const call = pop();
      now = call.end;
      if (call.provider === frozen && !call.failed && now < frozenUntil && call.start + settings.timeoutMs > now) {
        // Frozen: it answers when resumed, unless the caller's timeout comes first.
        call.failed = call.start + settings.timeoutMs <= frozenUntil;
        call.end = call.failed ? call.start + settings.timeoutMs : frozenUntil + MODEL_OVERHEAD_MS;
        push(call);
        continue;
      }
      const latency = now - call.start;
      if (call.failed) {
        call.pick.done({ latencyMs: latency, error: new RpcError(Code.DEADLINE_EXCEEDED, 'deadline exceeded', { mayHaveRun: true }) });
      } else {
        call.pick.done({ latencyMs: latency });
      }
      log.add(call.start, latency, call.provider, call.failed ? Code.DEADLINE_EXCEEDED : Code.OK);
      counts[call.provider]!++;
      if (now >= windowEnd) {
        const total = counts.reduce((a, c) => a + c, 0);
        held = settled && total > 0 && settled(counts.map((c) => c / total)) ? held + 250 : 0;
        counts.fill(0);
        windowEnd += 250;
        if (settled && held >= settings.settledMs) return now;
      }
      start();
    }
    now = until;
    return now;
  };
  for (let i = 0; i < settings.callers; i++) start();
  const phases: ModelResult['phases'] = [];
  const phase = (kind: PhaseKind, maxMs: number, settled?: (share: number[]) => boolean) => {
    const from = now;
    phases.push({ kind, from, to: run(from + maxMs, settled) });
  };
  phase('steady', settings.steadyMs);
  delays = reversedMs;
  const fastest = reversedMs.indexOf(Math.min(...reversedMs));
  phase('reverse', settings.maxReverseMs, (share) => share[fastest]! > 0.5);
  const before = sharesOf(log, endpoints.length, now - 1000, now);
  frozen = before.indexOf(Math.max(...before));
  frozenUntil = now + settings.freezeMs;
  phase('freeze', settings.freezeMs);
  frozenUntil = now;
  phase('resume', settings.maxResumeMs, (share) => share[frozen]! >= before[frozen]! / 2);
  return { log, phases, fastest, frozen, shareBeforeFreeze: before[frozen]! };
}

function sharesOf(log: CallLog, providers: number, from: number, to: number): number[] {
  const counts = new Array<number>(providers).fill(0);
  for (let i = 0; i < log.size; i++) if (log.start[i]! >= from && log.start[i]! < to) counts[log.provider[i]!]!++;
  const total = counts.reduce((a, c) => a + c, 0);
  return counts.map((c) => (total === 0 ? 0 : c / total));
}
