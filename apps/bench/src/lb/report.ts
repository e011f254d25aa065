/**
 * Turns a finished run into the results: steady-state figures per balancer, the ratios the targets
 * are stated in, the LALB event timings (measured, and from the virtual-clock model), the per-250 ms
 * timeline (lb.json), and the chart's input (lb.svg).
 */
import { analyseFreeze, analyseResume, analyseReverse } from './analysis.js';
import { bin, windowStats, type CallLog } from './call-log.js';
import type { ChartInput } from './chart.js';
import { MODEL_OVERHEAD_MS, type ModelResult, type ModelSettings } from './model.js';
import type { PickCost, PickCostSettings } from './pick-cost.js';
import type { Phase, ScenarioResult, ScenarioSettings } from './scenario.js';

/** brpc's published figures for the same setup (docs/cn/lalb.md). */
export const BRPC = { lalb: { qps: 43_312, meanUs: 1_153 }, roundRobin: { qps: 23_637, meanUs: 2_114 }, qpsRatio: 1.83, latencyRatio: 0.55 };
export const TARGET = { qpsRatio: 1.7, latencyRatio: 0.6 };

export interface ReportInput {
  readonly quick: boolean;
  readonly settings: ScenarioSettings;
  readonly scenario: ScenarioResult;
  readonly modelSettings: ModelSettings;
  readonly model: ModelResult;
  /** The same model with brpc's exact algorithm (BRPC_EXACT). */
  readonly modelBrpc: ModelResult;
  readonly pickSettings: PickCostSettings;
  readonly pickCost: readonly PickCost[];
  readonly machine: { cpus: number; loadAvgBefore: number[]; loadAvgAfter: number[] };
}

interface EventPhases {
  readonly warmupFrom: number;
  readonly reverse: { from: number; to: number };
  readonly freeze: { from: number; to: number };
  readonly resume: { from: number; to: number };
}

/** The reversal, freeze and resume timings, from a log of either the measured run or the model. */
function lalbEvents(log: CallLog, names: readonly string[], fastest: number, frozen: number, p: EventPhases) {
  const qpsOf = (a: number, b: number) => windowStats(log, names.length, a, b).qps;
  const freeze = analyseFreeze(log, names, frozen, p.freeze.from, p.freeze.to, p.warmupFrom, qpsOf);
  return {
    reverse: { atMs: p.reverse.from, phaseMs: p.reverse.to - p.reverse.from, ...analyseReverse(log, names, fastest, p.reverse.from, p.reverse.to) },
    freeze: { atMs: p.freeze.from, phaseMs: p.freeze.to - p.freeze.from, ...freeze },
    resume: { atMs: p.resume.from, phaseMs: p.resume.to - p.resume.from, ...analyseResume(log, names, frozen, freeze.shareBefore, p.resume.from, p.resume.to) },
  };
}

/** Steady figures and event timings of one model run. */
function modelSummary(model: ModelResult, names: readonly string[]) {
  const modelPhase = (kind: string) => model.phases.find((p) => p.kind === kind)!;
  const steady = windowStats(model.log, names.length, modelPhase('steady').from + 1000, modelPhase('steady').to);
  return {
    steady: { qps: steady.qps, meanUs: steady.meanUs, share: Object.fromEntries(names.map((n, i) => [n, steady.share[i]!])) },
    events: lalbEvents(model.log, names, model.fastest, model.frozen, {
      warmupFrom: 0, reverse: modelPhase('reverse'), freeze: modelPhase('freeze'), resume: modelPhase('resume'),
    }),
  };
}

export function buildReport(input: ReportInput) {
  const { scenario, settings, model } = input;
  const { names, log, phases, frozen } = scenario;
  const find = (balancer: string, kind: string): Phase => phases.find((p) => p.balancer === balancer && p.kind === kind)!;
  const steady = (['round-robin', 'random', 'lalb'] as const).map((balancer) => {
    const phase = find(balancer, 'steady');
    const stats = windowStats(log, names.length, phase.from, phase.to);
    return {
      balancer,
      ...stats,
      share: Object.fromEntries(names.map((n, i) => [n, stats.share[i]!])),
      perProvider: Object.fromEntries(names.map((n, i) => [n, stats.perProvider[i]!])),
      serviceTimes: Object.fromEntries(names.map((n, i) => [n, phase.serviceTimes?.[i]])),
      clientCpuPct: phase.clientCpuPct,
      loadAvg: phase.loadAvg,
    };
  });
  const [rr, random, lb] = steady as [(typeof steady)[0], (typeof steady)[0], (typeof steady)[0]];
  const ratio = (a: typeof rr, b: typeof rr) => ({ qps: a.qps / b.qps, meanLatency: a.meanUs / b.meanUs, p99Latency: a.p99Us / b.p99Us });
  const ratios = { lalbOverRoundRobin: ratio(lb, rr), lalbOverRandom: ratio(lb, random) };
  const reverse = find('lalb', 'reverse');
  const timeline = bin(log, names.length, 0, Math.ceil(scenario.end / 250) * 250, 250);
  const modelTimeline = bin(model.log, names.length, 0, Math.ceil(model.phases[model.phases.length - 1]!.to / 250) * 250, 250);
  return {
    date: new Date().toISOString(),
    node: process.version,
    machine: input.machine,
    quick: input.quick,
    settings,
    providers: names.map((name, i) => ({ name, delayMs: scenario.initialDelaysMs[i]!, reversedMs: reverse.delaysMs[i]!, frozen: i === frozen })),
    steady,
    ratios,
    targets: {
      qps: { target: `≥ ${TARGET.qpsRatio}× round-robin`, value: ratios.lalbOverRoundRobin.qps, met: ratios.lalbOverRoundRobin.qps >= TARGET.qpsRatio },
      meanLatency: { target: `≤ ${TARGET.latencyRatio}× round-robin`, value: ratios.lalbOverRoundRobin.meanLatency, met: ratios.lalbOverRoundRobin.meanLatency <= TARGET.latencyRatio },
    },
    brpc: BRPC,
    events: lalbEvents(log, names, scenario.fastest, frozen, {
      warmupFrom: find('lalb', 'warmup').from, reverse, freeze: find('lalb', 'freeze'), resume: find('lalb', 'resume'),
    }),
    model: {
      what: `The LALB run replayed on a virtual clock: the same LocalityAwareBalancer, ${input.modelSettings.callers} callers, service times of exactly 1/2/3 ms (then 3/2/1) plus ${MODEL_OVERHEAD_MS} ms per call, no machine noise.`,
      settings: input.modelSettings,
      lalbOptions: settings.lalbOptions,
      ...modelSummary(model, names),
      phases: model.phases,
      timeline: { binMs: modelTimeline.binMs, started: modelTimeline.started },
    },
    modelBrpc: {
      what: 'The same model with brpc\'s exact algorithm: minQpsRatio 0 (rate floor 1 qps), no sample age limit.',
      ...modelSummary(input.modelBrpc, names),
      phases: input.modelBrpc.phases,
    },
    pickCost: { endpoints: input.pickSettings.endpoints, picksPerRound: input.pickSettings.picks, rounds: input.pickSettings.rounds, results: input.pickCost },
    phases,
    timeline: {
      binMs: timeline.binMs,
      note: 'started[i][p]: calls sent to provider p in bin i (failed ones included); completed[i] / latencySumMs[i]: successful calls ending in bin i; failed[i][p]: failed calls by start (last column: no provider known)',
      started: timeline.started,
      completed: timeline.completed,
      latencySumMs: timeline.latencySum.map((v) => Math.round(v * 10) / 10),
      failed: timeline.failed,
    },
  };
}

export type LbReport = ReturnType<typeof buildReport>;

export function chartInput(report: LbReport, scenario: ScenarioResult, model: ModelResult): ChartInput {
  const { names, log, frozen } = scenario;
  const n = names.length;
  const { reverse, freeze, resume } = report.events;
  const phase = (kind: string) => scenario.phases.find((p) => p.balancer === 'lalb' && p.kind === kind)!;
  const [rev, frz, res] = [phase('reverse'), phase('freeze'), phase('resume')];
  const f = names[frozen]!;
  const fast = names[scenario.fastest]!;
  const { settings } = report;
  const m = report.model.events;
  return {
    title: 'Load balancing: round-robin, random and LALB over 3 providers',
    subtitle: `${settings.callers} callers, closed loop, loopback · ${settings.delay} service times${settings.jitter > 0 ? ` ±${Math.round(settings.jitter * 100)} %` : ''} · per-call timeout ${settings.timeoutMs} ms · ${report.date.slice(0, 10)} · Node ${report.node} · ${report.machine.cpus} cores, load avg ${report.machine.loadAvgBefore[0]!.toFixed(1)}`,
    names,
    frozen: f,
    legend: report.providers.map((p) => `${p.name}: ${p.delayMs} ms → ${p.reversedMs} ms${p.frozen ? `, then frozen ${settings.freezeMs / 1000} s` : ''}`),
    timeline: bin(log, n, 0, report.timeline.started.length * 250, 250),
    phases: scenario.phases,
    zooms: [
      {
        title: `Service times reversed (${rev.delaysMs.join('/')} ms)`,
        at: rev.from,
        bins: bin(log, n, rev.from - 1000, rev.to, Math.max(50, Math.round((rev.to - rev.from + 1000) / 120 / 50) * 50)),
        marks: [
          { atMs: reverse.majorityAfterMs, label: `${fast} gets > 50 % (100 ms window)` },
          { atMs: reverse.heldMajorityFromMs, label: `${fast} keeps > 50 % from` },
          { atMs: m.reverse.majorityAfterMs, label: `model: ${m.reverse.fastest} gets > 50 %`, model: true },
        ],
      },
      {
        title: `${f} frozen (SIGSTOP)`,
        at: frz.from,
        bins: bin(log, n, frz.from - 200, frz.from + Math.min(1000, frz.to - frz.from), 10),
        marks: [
          { atMs: freeze.firstElsewhereAfterMs, label: `first call elsewhere (${freeze.caughtByFreeze} calls caught on ${f})` },
          { atMs: freeze.below10PctAfterMs, label: `${f} below 10 % (20 ms window)` },
          { atMs: m.freeze.below10PctAfterMs, label: `model: ${m.freeze.frozen} below 10 %`, model: true },
        ],
      },
      {
        title: `${f} resumed (SIGCONT)`,
        at: res.from,
        bins: bin(log, n, res.from - 1000, res.to, Math.max(50, Math.round((res.to - res.from + 1000) / 120 / 50) * 50)),
        marks: [
          { atMs: resume.firstSuccessAfterMs, label: `first call ${f} answered` },
          { atMs: resume.halfOldShareAfterMs, label: `${f} back to half its old share (${Math.round(freeze.shareBefore * 50)} %)` },
          { atMs: m.resume.halfOldShareAfterMs, label: `model: ${m.resume.resumed} back to half its share`, model: true },
        ],
      },
    ],
    lalbView: scenario.phases.flatMap((p) => p.lalbView ?? []),
    model: {
      timeline: bin(model.log, n, 0, report.model.timeline.started.length * 250, 250),
      phases: model.phases,
      frozen: names[model.frozen]!,
    },
    steady: report.steady.map((s) => ({ balancer: s.balancer, qps: s.qps, meanUs: s.meanUs, p99Us: s.p99Us, share: names.map((name) => s.share[name]!) })),
    verdict: `LALB / round-robin: QPS ${report.ratios.lalbOverRoundRobin.qps.toFixed(2)}× (target ≥ ${TARGET.qpsRatio}), mean latency ${report.ratios.lalbOverRoundRobin.meanLatency.toFixed(2)}× (target ≤ ${TARGET.latencyRatio}). brpc reports ${BRPC.qpsRatio}× and ${BRPC.latencyRatio}×.`,
  };
}
