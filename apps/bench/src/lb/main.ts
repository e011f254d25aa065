/**
 * `pnpm bench:lb`: the load-balancing benchmark of issue 6. Real provider processes on loopback
 * with injected service times of 1, 2 and 3 ms, 50 callers in a closed loop; round-robin, random
 * and LALB in turn; then, for LALB, the service times reversed mid-run, the new fastest provider
 * frozen (SIGSTOP) and resumed (SIGCONT); then the cost of one pick over 1,000 endpoints.
 *
 *   node dist/lb/main.js                full run (≤ 2 min): bench-results/lb.json and lb.svg
 *   node dist/lb/main.js --quick        a few seconds per phase (CI smoke run): lb-quick.json/.svg
 *   --out DIR     where results go      --delay timer   setTimeout service times, as the testkit's
 *   --callers N   (default 50)          --timeout-ms N  per-call timeout (default 500)
 *   --max-reverse-ms N / --max-resume-ms N   caps of the two phases that end when the shares settle
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { lbChart } from './chart.js';
import { runModel, type ModelSettings } from './model.js';
import { measurePickCost, type PickCostSettings } from './pick-cost.js';
import type { DelayMode } from './provider-protocol.js';
import { buildReport, chartInput } from './report.js';
import { DELAYS_MS, machine, runScenario, type ScenarioSettings } from './scenario.js';
import { printReport } from './text-report.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      out: { type: 'string', default: resolve(__dirname, '..', '..', '..', '..', 'bench-results') },
      delay: { type: 'string', default: 'precise' },
      callers: { type: 'string', default: '50' },
      'timeout-ms': { type: 'string', default: '500' },
      'max-reverse-ms': { type: 'string' },
      'max-resume-ms': { type: 'string' },
    },
  });
  const delay = values.delay as DelayMode;
  if (delay !== 'precise' && delay !== 'timer') throw new Error(`--delay must be precise or timer, not ${values.delay}`);
  const callers = Number(values.callers);
  const timeoutMs = Number(values['timeout-ms']);
  if (!(Number.isInteger(callers) && callers > 0)) throw new Error(`--callers must be a positive integer, not ${values.callers}`);
  if (!(timeoutMs > 0)) throw new Error(`--timeout-ms must be a positive number, not ${values['timeout-ms']}`);
  const quick = values.quick!;
  const phases = quick
    ? { warmupMs: 400, steadyMs: 1200, maxReverseMs: 1200, freezeMs: 800, maxResumeMs: 1500, settledMs: 500 }
    : { warmupMs: 2000, steadyMs: 10_000, maxReverseMs: 25_000, freezeMs: 5000, maxResumeMs: 20_000, settledMs: 2000 };
  const settings: ScenarioSettings = {
    ...phases,
    ...(values['max-reverse-ms'] ? { maxReverseMs: Number(values['max-reverse-ms']) } : {}),
    ...(values['max-resume-ms'] ? { maxResumeMs: Number(values['max-resume-ms']) } : {}),
    callers,
    timeoutMs,
    delay,
  };
  // The model costs CPU time only (~50k simulated calls per virtual second, ~1 µs each): it can
  // afford to wait a minute of virtual time for what the measured run may not see in its phases.
  const modelSettings: ModelSettings = quick
    ? { callers, timeoutMs, steadyMs: 2000, maxReverseMs: 15_000, freezeMs: settings.freezeMs, maxResumeMs: 3000, settledMs: 500 }
    : { callers, timeoutMs, steadyMs: 10_000, maxReverseMs: 60_000, freezeMs: settings.freezeMs, maxResumeMs: 60_000, settledMs: 2000 };
  const pickSettings: PickCostSettings = quick
    ? { endpoints: 1000, warmupPicks: 5000, picks: 20_000, rounds: 3 }
    : { endpoints: 1000, warmupPicks: 100_000, picks: 300_000, rounds: 5 };
  const before = machine();
  const say = (line: string) => console.log(`[lb] ${line}`);
  say(`${callers} callers, per-call timeout ${timeoutMs} ms, ${delay} service times; load average ${before.loadAvg.map((l) => l.toFixed(1)).join(' ')} on ${before.cpus} cores`);

  const scenario = await runScenario(settings, say);
  say('model: the LALB run again on a virtual clock with exact service times');
  const model = runModel(modelSettings, DELAYS_MS, [...DELAYS_MS].reverse());
  say(`pick cost: ${pickSettings.endpoints} endpoints, ${pickSettings.rounds} rounds of ${pickSettings.picks} picks`);
  const pickCost = measurePickCost(pickSettings);
  const after = machine();
  const report = buildReport({
    quick,
    settings,
    scenario,
    modelSettings,
    model,
    pickSettings,
    pickCost,
    machine: { cpus: before.cpus, loadAvgBefore: before.loadAvg, loadAvgAfter: after.loadAvg },
  });
  mkdirSync(values.out!, { recursive: true });
  const name = quick ? 'lb-quick' : 'lb';
  writeFileSync(join(values.out!, `${name}.json`), JSON.stringify(report, null, 2));
  writeFileSync(join(values.out!, `${name}.svg`), lbChart(chartInput(report, scenario, model)));
  printReport(report);
  console.log(`\nwrote ${join(values.out!, `${name}.json`)} and ${name}.svg`);
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    console.error(error.stack ?? error.message);
    process.exit(1);
  },
);
