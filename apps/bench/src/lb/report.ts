/**
 * Turns a finished run into the results: steady-state figures per scenario and balancer, the ratios
 * the targets are stated in, the event timings per balancer (measured, and from the virtual-clock
 * model), the per-250 ms timeline (lb.json), and the chart's input (lb.svg).
 */
import { analyseFreeze, analyseResume, analyseReverse } from './analysis.js';
import { bin, windowStats, type CallLog } from './call-log.js';
import type { ChartInput, Zoom } from './chart.js';
import { ADAPTIVE, BALANCERS, type BalancerName } from './load.js';
import { MODEL_OVERHEAD_MS, type ModelResult, type ModelSettings } from './model.js';
import type { PickCost, PickCostSettings, TableBuildCost } from './pick-cost.js';
import type { Phase, ScenarioName, ScenarioResult, ScenarioSettings } from './scenario.js';

/** brpc's published figures for the 1/2/3 ms setup (docs/cn/lalb.md). */
export const BRPC = { lalb: { qps: 43_312, meanUs: 1_153 }, roundRobin: { qps: 23_637, meanUs: 2_114 }, qpsRatio: 1.83, latencyRatio: 0.55 };
/** Issue #6's LALB targets (1/2/3 ms) and issue #21's equal-scenario share band. */
export const TARGET = { qpsRatio: 1.7, latencyRatio: 0.6, equalShare: { min: 0.25, max: 0.42 } };

export interface ReportInput {
  readonly quick: boolean;
  readonly settings: ScenarioSettings;
  readonly scenario: ScenarioResult;
  readonly modelSettings: ModelSettings;
  /** The 1/2/3 ms model per balancer: LALB with the run's options, brpc's exact algorithm, P2C. */
  readonly models: Readonly<Record<ModelName, ModelResult>>;
  /** The equal model per balancer. */
  readonly equalModels: Readonly<Record<ModelName, { log: CallLog; steady: { from: number; to: number } }>>;
  readonly pickSettings: PickCostSettings;
  readonly pickCost: readonly PickCost[];
  readonly tableBuild: readonly TableBuildCost[];
  readonly machine: { cpus: number; loadAvgBefore: number[]; loadAvgAfter: number[] };
}

export type ModelName = 'lalb' | 'brpc' | 'p2c';
export const MODEL_LABELS: Record<ModelName, string> = { lalb: 'LALB (Trellis)', brpc: 'LALB (brpc exact)', p2c: 'P2C' };

interface EventPhases {
  readonly warmupFrom: number;
  readonly reverse: { from: number; to: number };
  readonly freeze: { from: number; to: number };
  readonly resume: { from: number; to: number };
}

/** The reversal, freeze and resume timings, from a log of either a measured run or the model. */
function events(log: CallLog, names: readonly string[], fastest: number, frozen: number, p: EventPhases) {
  const qpsOf = (a: number, b: number) => windowStats(log, names.length, a, b).qps;
  const freeze = analyseFreeze(log, names, frozen, p.freeze.from, p.freeze.to, p.warmupFrom, qpsOf);
  return {
    reverse: { atMs: p.reverse.from, phaseMs: p.reverse.to - p.reverse.from, ...analyseReverse(log, names, fastest, p.reverse.from, p.reverse.to) },
    freeze: { atMs: p.freeze.from, phaseMs: p.freeze.to - p.freeze.from, ...freeze },
    resume: { atMs: p.resume.from, phaseMs: p.resume.to - p.resume.from, ...analyseResume(log, names, frozen, freeze.shareBefore, p.resume.from, p.resume.to) },
  };
}

const byName = (names: readonly string[], values: readonly number[]) => Object.fromEntries(names.map((n, i) => [n, values[i]!]));

/** Steady figures and event timings of one model run. */
function modelSummary(model: ModelResult, names: readonly string[]) {
  const phase = (kind: string) => model.phases.find((p) => p.kind === kind)!;
  const steady = windowStats(model.log, names.length, phase('steady').from + 1000, phase('steady').to);
  return {
    steady: { qps: steady.qps, meanUs: steady.meanUs, share: byName(names, steady.share) },
    events: events(model.log, names, model.fastest, model.frozen, { warmupFrom: 0, reverse: phase('reverse'), freeze: phase('freeze'), resume: phase('resume') }),
  };
}

export function buildReport(input: ReportInput) {
  const { scenario, settings } = input;
  const { names, log, phases } = scenario;
  const find = (scenarioName: ScenarioName, balancer: BalancerName, kind: string): Phase =>
    phases.find((p) => p.scenario === scenarioName && p.balancer === balancer && p.kind === kind)!;
  const steadyRow = (scenarioName: ScenarioName, balancer: BalancerName) => {
    const phase = find(scenarioName, balancer, 'steady');
    const stats = windowStats(log, names.length, phase.from, phase.to);
    // The balancer's decisions: calls started in the phase, by the provider they went to. `share` is
    // of the calls completed in it, which a provider stalled by a loaded machine thins out.
    const picked = bin(log, names.length, phase.from, phase.to, Math.max(1, phase.to - phase.from)).started[0]!;
    return {
      scenario: scenarioName,
      balancer,
      ...stats,
      share: byName(names, stats.share),
      picks: byName(names, picked),
      perProvider: Object.fromEntries(names.map((n, i) => [n, stats.perProvider[i]!])),
      serviceTimes: Object.fromEntries(names.map((n, i) => [n, phase.serviceTimes?.[i]])),
      clientCpuPct: phase.clientCpuPct,
      loadAvg: phase.loadAvg,
    };
  };
  const steady = (['unequal', 'equal'] as const).flatMap((s) => BALANCERS.map((b) => steadyRow(s, b)));
  const row = (s: ScenarioName, b: BalancerName) => steady.find((r) => r.scenario === s && r.balancer === b)!;
  const ratio = (a: (typeof steady)[0], b: (typeof steady)[0]) => ({ qps: a.qps / b.qps, meanLatency: a.meanUs / b.meanUs, p99Latency: a.p99Us / b.p99Us });
  const rr = row('unequal', 'round-robin');
  const ratios = {
    lalbOverRoundRobin: ratio(row('unequal', 'lalb'), rr),
    lalbOverRandom: ratio(row('unequal', 'lalb'), row('unequal', 'random')),
    p2cOverRoundRobin: ratio(row('unequal', 'p2c'), rr),
    p2cOverRandom: ratio(row('unequal', 'p2c'), row('unequal', 'random')),
    lalbOverP2c: ratio(row('unequal', 'lalb'), row('unequal', 'p2c')),
  };
  const inBand = (shares: Record<string, number>) => Object.values(shares).every((s) => s >= TARGET.equalShare.min && s <= TARGET.equalShare.max);
  const equalShares = Object.fromEntries(BALANCERS.map((b) => [b, { share: row('equal', b).share, withinBand: inBand(row('equal', b).share) }]));
  const measuredEvents = Object.fromEntries(scenario.runs.map((run) => [run.balancer, {
    adaptive: ADAPTIVE.has(run.balancer),
    ...events(log, names, scenario.fastest, run.frozen, {
      warmupFrom: find('unequal', run.balancer, 'warmup').from,
      reverse: find('unequal', run.balancer, 'reverse'),
      freeze: find('unequal', run.balancer, 'freeze'),
      resume: find('unequal', run.balancer, 'resume'),
    }),
  }])) as Record<BalancerName, { adaptive: boolean } & ReturnType<typeof events>>;
  const timeline = bin(log, names.length, 0, Math.ceil(scenario.end / 250) * 250, 250);
  const modelNames = Object.keys(input.models) as ModelName[];
  const reverse = find('unequal', 'lalb', 'reverse');
  return {
    date: new Date().toISOString(),
    node: process.version,
    machine: input.machine,
    quick: input.quick,
    settings,
    providers: names.map((name, i) => ({ name, delayMs: scenario.initialDelaysMs[i]!, reversedMs: reverse.delaysMs[i]!, equalMs: scenario.equalDelayMs })),
    steady,
    ratios,
    targets: {
      qps: { target: `LALB ≥ ${TARGET.qpsRatio}× round-robin`, value: ratios.lalbOverRoundRobin.qps, met: ratios.lalbOverRoundRobin.qps >= TARGET.qpsRatio },
      meanLatency: { target: `LALB ≤ ${TARGET.latencyRatio}× round-robin`, value: ratios.lalbOverRoundRobin.meanLatency, met: ratios.lalbOverRoundRobin.meanLatency <= TARGET.latencyRatio },
      equal: { target: `equal: every LALB share in ${TARGET.equalShare.min * 100}–${TARGET.equalShare.max * 100} %`, value: equalShares.lalb!.share, met: equalShares.lalb!.withinBand },
    },
    equalShares,
    brpc: BRPC,
    events: measuredEvents,
    model: {
      what: `The runs replayed on a virtual clock with the same balancer classes, ${input.modelSettings.callers} callers, no machine noise: 1/2/3 ms exactly (then 3/2/1, then the busiest frozen) plus ${MODEL_OVERHEAD_MS} ms per call; equal: 2 ms ± ${Math.round(input.modelSettings.jitter * 100)} % plus ${MODEL_OVERHEAD_MS} ms.`,
      settings: input.modelSettings,
      lalbOptions: settings.lalbOptions,
      unequal: Object.fromEntries(modelNames.map((m) => [m, { label: MODEL_LABELS[m], ...modelSummary(input.models[m], names), phases: input.models[m].phases }])) as Record<ModelName, { label: string; phases: ModelResult['phases'] } & ReturnType<typeof modelSummary>>,
      equal: Object.fromEntries(modelNames.map((m) => {
        const { log: mlog, steady: s } = input.equalModels[m];
        const stats = windowStats(mlog, names.length, s.from, s.to);
        return [m, { label: MODEL_LABELS[m], qps: stats.qps, meanUs: stats.meanUs, share: byName(names, stats.share), withinBand: inBand(byName(names, stats.share)) }];
      })) as Record<ModelName, { label: string; qps: number; meanUs: number; share: Record<string, number>; withinBand: boolean }>,
    },
    pickCost: { endpoints: input.pickSettings.endpoints, picksPerRound: input.pickSettings.picks, rounds: input.pickSettings.rounds, results: input.pickCost, tableBuild: input.tableBuild },
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

const LABEL: Record<BalancerName, string> = { 'round-robin': 'round-robin', random: 'random', lalb: 'LALB', p2c: 'P2C' };

export function chartInput(report: LbReport, scenario: ScenarioResult, models: Readonly<Record<ModelName, ModelResult>>): ChartInput {
  const { names, log } = scenario;
  const n = names.length;
  const { settings } = report;
  const fast = names[scenario.fastest]!;
  // Close-ups of the events, for the balancers that react to them.
  const zoomsOf = (balancer: BalancerName): Zoom[] => {
    const run = scenario.runs.find((r) => r.balancer === balancer)!;
    const f = names[run.frozen]!;
    const phase = (kind: string) => scenario.phases.find((p) => p.scenario === 'unequal' && p.balancer === balancer && p.kind === kind)!;
    const [rev, frz, res] = [phase('reverse'), phase('freeze'), phase('resume')];
    const { reverse, freeze, resume } = report.events[balancer];
    const model = balancer === 'lalb' || balancer === 'p2c' ? report.model.unequal[balancer].events : undefined;
    const who = LABEL[balancer];
    return [
      {
        title: `${who}: service times reversed (${rev.delaysMs.join('/')} ms)`,
        at: rev.from,
        bins: bin(log, n, rev.from - 1000, rev.to, Math.max(50, Math.round((rev.to - rev.from + 1000) / 120 / 50) * 50)),
        marks: [
          { atMs: reverse.majorityAfterMs, label: `${fast} gets > 50 % (100 ms window)` },
          { atMs: reverse.heldMajorityFromMs, label: `${fast} keeps > 50 % from` },
          ...(model ? [{ atMs: model.reverse.majorityAfterMs, label: `model: ${model.reverse.fastest} gets > 50 %`, model: true }] : []),
        ],
      },
      {
        title: `${who}: ${f} frozen (SIGSTOP)`,
        at: frz.from,
        bins: bin(log, n, frz.from - 200, frz.from + Math.min(1000, frz.to - frz.from), 10),
        marks: [
          { atMs: freeze.firstElsewhereAfterMs, label: `first call elsewhere (${freeze.caughtByFreeze} calls caught on ${f})` },
          { atMs: freeze.below10PctAfterMs, label: `${f} below 10 % (20 ms window)` },
          ...(model ? [{ atMs: model.freeze.below10PctAfterMs, label: `model: ${model.freeze.frozen} below 10 %`, model: true }] : []),
        ],
      },
      {
        title: `${who}: ${f} resumed (SIGCONT)`,
        at: res.from,
        bins: bin(log, n, res.from - 1000, res.to, Math.max(50, Math.round((res.to - res.from + 1000) / 120 / 50) * 50)),
        marks: [
          { atMs: resume.firstSuccessAfterMs, label: `first call ${f} answered` },
          { atMs: resume.halfOldShareAfterMs, label: `${f} back to half its old share (${Math.round(freeze.shareBefore * 50)} %)` },
          ...(model ? [{ atMs: model.resume.halfOldShareAfterMs, label: `model: ${model.resume.resumed} back to half its share`, model: true }] : []),
        ],
      },
    ];
  };
  const rrModelQps = settings.callers / ((1 + 2 + 3) / 3 + MODEL_OVERHEAD_MS) * 1000;
  const r = report.ratios;
  return {
    title: 'Load balancing: round-robin, random, LALB and P2C over 3 providers',
    subtitle: `${settings.callers} callers, closed loop, loopback · ${settings.delay} service times${settings.jitter > 0 ? ` ±${Math.round(settings.jitter * 100)} %` : ''} · per-call timeout ${settings.timeoutMs} ms · ${report.date.slice(0, 10)} · Node ${report.node} · ${report.machine.cpus} cores, load avg ${report.machine.loadAvgBefore[0]!.toFixed(1)} → ${report.machine.loadAvgAfter[0]!.toFixed(1)}`,
    names,
    legend: report.providers.map((p) => `${p.name}: ${p.delayMs} ms → ${p.reversedMs} ms; equal: ${p.equalMs} ms`),
    timeline: bin(log, n, 0, report.timeline.started.length * 250, 250),
    phases: scenario.phases,
    frozenByRun: Object.fromEntries(scenario.runs.map((run) => [run.balancer, names[run.frozen]!])),
    zooms: [zoomsOf('lalb'), zoomsOf('p2c')],
    views: scenario.phases.flatMap((p) => (p.view ?? []).map((v) => ({ ...v, balancer: p.balancer }))),
    models: (Object.keys(models) as ModelName[]).map((m) => ({
      label: `${MODEL_LABELS[m]}: ${(report.model.unequal[m].steady.qps / rrModelQps).toFixed(2)}× round-robin's QPS`,
      timeline: bin(models[m].log, n, 0, Math.ceil(models[m].phases[models[m].phases.length - 1]!.to / 250) * 250, 250),
      phases: models[m].phases,
      frozen: names[models[m].frozen]!,
    })),
    steady: report.steady.map((s) => ({ scenario: s.scenario, balancer: s.balancer, qps: s.qps, meanUs: s.meanUs, p99Us: s.p99Us, share: names.map((name) => s.share[name]!) })),
    verdict: [
      `1/2/3 ms: LALB / round-robin QPS ${r.lalbOverRoundRobin.qps.toFixed(2)}× (target ≥ ${TARGET.qpsRatio}), mean latency ${r.lalbOverRoundRobin.meanLatency.toFixed(2)}× (target ≤ ${TARGET.latencyRatio}); P2C ${r.p2cOverRoundRobin.qps.toFixed(2)}× and ${r.p2cOverRoundRobin.meanLatency.toFixed(2)}×. brpc reports ${BRPC.qpsRatio}× and ${BRPC.latencyRatio}×.`,
      `equal: LALB shares ${names.map((nm) => `${Math.round(report.equalShares.lalb!.share[nm]! * 100)} %`).join(' / ')} (target: each ${TARGET.equalShare.min * 100}–${TARGET.equalShare.max * 100} %), P2C ${names.map((nm) => `${Math.round(report.equalShares.p2c!.share[nm]! * 100)} %`).join(' / ')}.`,
    ],
  };
}
