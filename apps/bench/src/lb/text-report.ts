/** The console summary of a run: a table per scenario, the target ratios, the events per balancer, pick cost. */
import { BALANCERS } from './load.js';
import { MODEL_OVERHEAD_MS } from './model.js';
import type { LbReport, ModelName } from './report.js';

const pct = (v: number | undefined): string => `${Math.round((v ?? 0) * 100)}%`;
const ms = (v: number | null): string => (v === null ? 'not within the phase' : `${Math.round(v)} ms`);
const qps = (v: number): string => `${(v / 1000).toFixed(1)}k`;
const met = (ok: boolean): string => (ok ? 'met' : 'NOT met');

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join('  ')).join('\n');
}

export function printReport(report: LbReport): void {
  const names = report.providers.map((p) => p.name);
  const { settings } = report;
  for (const scenario of ['unequal', 'equal'] as const) {
    const rows = [['balancer', 'QPS', 'mean', 'p99', 'failed', `share ${names.join('/')}`, `client-side latency ${names.join('/')}`, `service time ${names.join('/')} (measured)`, 'client CPU', 'load']];
    for (const s of report.steady.filter((r) => r.scenario === scenario)) {
      rows.push([
        s.balancer,
        qps(s.qps),
        `${Math.round(s.meanUs)} µs`,
        `${Math.round(s.p99Us)} µs`,
        String(s.failed),
        names.map((n) => pct(s.share[n])).join('/'),
        names.map((n) => `${(s.perProvider[n]!.meanUs / 1000).toFixed(2)}`).join('/') + ' ms',
        names.map((n) => (s.serviceTimes[n] ? s.serviceTimes[n]!.meanMs.toFixed(2) : '–')).join('/') + ' ms',
        `${Math.round(s.clientCpuPct)}%`,
        s.loadAvg.toFixed(1),
      ]);
    }
    const times = scenario === 'equal' ? names.map(() => report.providers[0]!.equalMs).join('/') : report.providers.map((p) => p.delayMs).join('/');
    console.log(`\n${scenario === 'equal' ? 'Equal' : '1/2/3 ms'}: steady state (${settings.steadyMs / 1000} s each, ${settings.callers} callers, service times ${times} ms, ${settings.delay}${settings.jitter > 0 ? `, ±${Math.round(settings.jitter * 100)} % jitter` : ''}):\n`);
    console.log(table(rows));
  }
  const r = report.ratios;
  const t = report.targets;
  console.log(`\nLALB / round-robin: QPS ${r.lalbOverRoundRobin.qps.toFixed(2)}× (target ${t.qps.target.replace('LALB ', '')}: ${met(t.qps.met)}), ` +
    `mean latency ${r.lalbOverRoundRobin.meanLatency.toFixed(2)}× (target ${t.meanLatency.target.replace('LALB ', '')}: ${met(t.meanLatency.met)}), p99 ${r.lalbOverRoundRobin.p99Latency.toFixed(2)}×`);
  console.log(`P2C / round-robin:  QPS ${r.p2cOverRoundRobin.qps.toFixed(2)}×, mean latency ${r.p2cOverRoundRobin.meanLatency.toFixed(2)}×, p99 ${r.p2cOverRoundRobin.p99Latency.toFixed(2)}×`);
  console.log(`LALB / random:      QPS ${r.lalbOverRandom.qps.toFixed(2)}×, mean latency ${r.lalbOverRandom.meanLatency.toFixed(2)}×;  P2C / random: QPS ${r.p2cOverRandom.qps.toFixed(2)}×, mean latency ${r.p2cOverRandom.meanLatency.toFixed(2)}×`);
  console.log(`brpc (same setup):  QPS ${report.brpc.qpsRatio}×, mean latency ${report.brpc.latencyRatio}× (LALB ${report.brpc.lalb.qps} QPS at ${report.brpc.lalb.meanUs} µs vs ${report.brpc.roundRobin.qps} at ${report.brpc.roundRobin.meanUs} µs)`);
  console.log(`Equal: ${BALANCERS.map((b) => `${b} ${names.map((n) => pct(report.equalShares[b]!.share[n])).join('/')}`).join(', ')} (target ${t.equal.target.replace('equal: ', '')}: ${met(t.equal.met)})`);

  console.log(`\nMeasured events (1/2/3 ms run of each balancer):`);
  for (const balancer of BALANCERS) {
    const e = report.events[balancer];
    if (e === undefined) continue;
    const { reverse, freeze, resume } = e;
    console.log(`${balancer}${e.adaptive ? '' : ' (does not adapt: fixed phases)'}:`);
    console.log(`  reversed to ${report.providers.map((p) => p.reversedMs).join('/')} ms: ${reverse.fastest} had most of the traffic after ${ms(reverse.majorityAfterMs)} ` +
      `(kept it from ${ms(reverse.heldMajorityFromMs)}); settled at ${names.map((n) => `${n} ${pct(reverse.settledShare[n])}`).join(', ')}`);
    console.log(`  ${freeze.frozen} frozen: ${freeze.caughtByFreeze} calls caught by the freeze (their callers waited for the timeout); first call elsewhere after ${ms(freeze.firstElsewhereAfterMs)}; ` +
      `its share (${pct(freeze.shareBefore)} before) below 10% after ${ms(freeze.below10PctAfterMs)}, below 1% after ${ms(freeze.below1PctAfterMs)}; ` +
      `${freeze.sentWhileFrozen} calls sent to it while frozen (${(freeze.shareWhileFrozen * 100).toFixed(2)}%), ${freeze.timedOut} timed out on it, ${freeze.otherFailures} other failures; ` +
      `QPS ${qps(freeze.qpsBefore)} before, ${qps(freeze.qpsWhileFrozen)} while frozen`);
    console.log(`  ${resume.resumed} resumed: first answered call after ${ms(resume.firstSuccessAfterMs)}, above 10% after ${ms(resume.above10PctAfterMs)}, half its old share back after ${ms(resume.halfOldShareAfterMs)}; ` +
      `at the end ${names.map((n) => `${n} ${pct(resume.shareAtEnd[n])}`).join(', ')}`);
  }

  const rrModelQps = settings.callers / ((1 + 2 + 3) / 3 + MODEL_OVERHEAD_MS) * 1000;
  console.log(`\nModel (virtual clock, no machine noise; 1/2/3 ms exact + ${MODEL_OVERHEAD_MS} ms, round-robin would do ${qps(rrModelQps)} QPS):`);
  for (const m of Object.keys(report.model.unequal) as ModelName[]) {
    const mm = report.model.unequal[m];
    const eq = report.model.equal[m];
    console.log(`${mm.label.padEnd(18)} 1/2/3 ms: ${qps(mm.steady.qps)} QPS (${(mm.steady.qps / rrModelQps).toFixed(2)}× round-robin), share ${names.map((n) => pct(mm.steady.share[n])).join('/')}; ` +
      `reversed: ${mm.events.reverse.fastest} > 50 % after ${ms(mm.events.reverse.majorityAfterMs)}; resumed ${mm.events.resume.resumed}: half its old share back after ${ms(mm.events.resume.halfOldShareAfterMs)}; ` +
      `equal: ${names.map((n) => pct(eq.share[n])).join('/')}${eq.withinBand ? '' : ' (outside 25–42 %)'}`);
  }

  const pc = report.pickCost;
  console.log(`\nPick cost over ${pc.endpoints} endpoints (median of ${pc.rounds} × ${pc.picksPerRound} picks, done() included): ` +
    pc.results.map((c) => `${c.balancer} ${Math.round(c.nsPerPick)} ns`).join(', '));
  console.log(`Hash table build for ${pc.endpoints} endpoints (once per list): ${pc.tableBuild.map((b) => `${b.table} ${b.ms.toFixed(1)} ms`).join(', ')}`);
  console.log(`load average before ${report.machine.loadAvgBefore.map((l) => l.toFixed(1)).join(' ')}, after ${report.machine.loadAvgAfter.map((l) => l.toFixed(1)).join(' ')} (${report.machine.cpus} cores)`);
}
