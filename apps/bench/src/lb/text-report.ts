/** The console summary of a run: a table per balancer, the target ratios, the LALB events, pick cost. */
import type { LbReport } from './report.js';

const pct = (v: number | undefined): string => `${Math.round((v ?? 0) * 100)}%`;
const ms = (v: number | null): string => (v === null ? 'not within the phase' : `${Math.round(v)} ms`);
const qps = (v: number): string => `${(v / 1000).toFixed(1)}k`;

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, j) => (j === 0 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join('  ')).join('\n');
}

export function printReport(report: LbReport): void {
  const names = report.providers.map((p) => p.name);
  const rows = [['balancer', 'QPS', 'mean', 'p99', 'failed', `share ${names.join('/')}`, `client-side latency ${names.join('/')}`, `service time ${names.join('/')} (measured)`, 'client CPU', 'load']];
  for (const s of report.steady) {
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
  console.log(`\nSteady state (${report.settings.steadyMs / 1000} s each, ${report.settings.callers} callers, service times ${report.providers.map((p) => p.delayMs).join('/')} ms, ${report.settings.delay}${report.settings.jitter > 0 ? `, ±${Math.round(report.settings.jitter * 100)} % jitter` : ''}):\n`);
  console.log(table(rows));
  const r = report.ratios.lalbOverRoundRobin;
  const t = report.targets;
  console.log(`\nLALB / round-robin: QPS ${r.qps.toFixed(2)}× (target ${t.qps.target}: ${t.qps.met ? 'met' : 'NOT met'}), ` +
    `mean latency ${r.meanLatency.toFixed(2)}× (target ${t.meanLatency.target}: ${t.meanLatency.met ? 'met' : 'NOT met'}), p99 ${r.p99Latency.toFixed(2)}×`);
  const rnd = report.ratios.lalbOverRandom;
  console.log(`LALB / random:      QPS ${rnd.qps.toFixed(2)}×, mean latency ${rnd.meanLatency.toFixed(2)}×`);
  console.log(`brpc (same setup):  QPS ${report.brpc.qpsRatio}×, mean latency ${report.brpc.latencyRatio}× (LALB ${report.brpc.lalb.qps} QPS at ${report.brpc.lalb.meanUs} µs vs ${report.brpc.roundRobin.qps} at ${report.brpc.roundRobin.meanUs} µs)`);
  const { reverse, freeze, resume } = report.events;
  console.log(`\nMeasured:`);
  console.log(`Reversed to ${report.providers.map((p) => p.reversedMs).join('/')} ms: ${reverse.fastest} had most of the traffic after ${ms(reverse.majorityAfterMs)} ` +
    `(kept it from ${ms(reverse.heldMajorityFromMs)}); settled at ${names.map((n) => `${n} ${pct(reverse.settledShare[n])}`).join(', ')}`);
  console.log(`${freeze.frozen} frozen: ${freeze.caughtByFreeze} calls caught by the freeze (in flight, or sent within 10 ms; their callers waited for the timeout); the first call to another provider started after ${ms(freeze.firstElsewhereAfterMs)}; ` +
    `its share (${pct(freeze.shareBefore)} before) fell below 10% after ${ms(freeze.below10PctAfterMs)}, below 1% after ${ms(freeze.below1PctAfterMs)}; ` +
    `${freeze.sentWhileFrozen} calls sent to it while frozen (${(freeze.shareWhileFrozen * 100).toFixed(2)}%), ${freeze.timedOut} timed out on it in all, ${freeze.otherFailures} other failures; ` +
    `QPS ${qps(freeze.qpsBefore)} before, ${qps(freeze.qpsWhileFrozen)} while frozen`);
  console.log(`${resume.resumed} resumed: first answered call after ${ms(resume.firstSuccessAfterMs)}, above 10% after ${ms(resume.above10PctAfterMs)}, half its old share back after ${ms(resume.halfOldShareAfterMs)}, above 50% after ${ms(resume.majorityAfterMs)}; ` +
    `at the end ${names.map((n) => `${n} ${pct(resume.shareAtEnd[n])}`).join(', ')}`);
  const m = report.model.events;
  console.log(`\nModel (virtual clock, exact service times + 0.1 ms; steady ${qps(report.model.steady.qps)} QPS at ${Math.round(report.model.steady.meanUs)} µs):`);
  console.log(`Reversed: ${m.reverse.fastest} had most of the traffic after ${ms(m.reverse.majorityAfterMs)}; ${m.freeze.frozen} frozen: first call elsewhere after ${ms(m.freeze.firstElsewhereAfterMs)} ` +
    `(${m.freeze.caughtByFreeze} caught by the freeze), ${m.freeze.sentWhileFrozen} calls sent to it while frozen; resumed: first answered call after ${ms(m.resume.firstSuccessAfterMs)}, ` +
    `half its old share back after ${ms(m.resume.halfOldShareAfterMs)} (phase ${Math.round(m.resume.phaseMs / 1000)} s)`);
  const b = report.modelBrpc;
  const rrModelQps = report.settings.callers / ((1 + 2 + 3) / 3 + 0.1) * 1000;
  for (const [label, mm] of [['Trellis LALB', report.model], ['brpc exact  ', b]] as const) {
    console.log(`Model, ${label}: steady ${qps(mm.steady.qps)} QPS (${(mm.steady.qps / rrModelQps).toFixed(2)}× round-robin's ${qps(rrModelQps)}), ` +
      `share ${names.map((n) => pct(mm.steady.share[n])).join('/')}; reversed: ${mm.events.reverse.fastest} > 50 % after ${ms(mm.events.reverse.majorityAfterMs)}; ` +
      `resumed ${mm.events.resume.resumed}: half its old share back after ${ms(mm.events.resume.halfOldShareAfterMs)}`);
  }
  console.log(`\nPick cost over ${report.pickCost.endpoints} endpoints (median of ${report.pickCost.rounds} × ${report.pickCost.picksPerRound} picks, done() included): ` +
    report.pickCost.results.map((c) => `${c.balancer} ${Math.round(c.nsPerPick)} ns`).join(', '));
  console.log(`load average before ${report.machine.loadAvgBefore.map((l) => l.toFixed(1)).join(' ')}, after ${report.machine.loadAvgAfter.map((l) => l.toFixed(1)).join(' ')} (${report.machine.cpus} cores)`);
}
