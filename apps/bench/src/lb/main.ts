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
 *   --jitter F    service times uniform in delay × [1 − F, 1 + F] (same mean); default 0.2,
 *                 0 for exact times (see provider-main.ts: exact times march in lockstep)
 *   --lalb-options JSON   options for the LALB run, e.g. '{"minQpsRatio":0,"maxSampleAgeMs":null}'
 *                         (null stands for Infinity: brpc's exact algorithm)
 *
 * The model runs twice: with the LALB run's options, and with brpc's exact algorithm
 * (BRPC_EXACT), so the report shows what Trellis's two additions change.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { lbChart } from './chart.js';
import type { LalbOptions } from '@trellis/lb-lalb';
import { BRPC_EXACT, runModel, type ModelSettings } from './model.js';
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
      'lalb-options': { type: 'string', default: '{}' },
      jitter: { type: 'string', default: '0.2' },
    },
  });
  const delay = values.delay as DelayMode;
  if (delay !== 'precise' && delay !== 'timer') throw new Error(`--delay must be precise or timer, not ${values.delay}`);
  const callers = Number(values.callers);
  const timeoutMs = Number(values['timeout-ms']);
  if (!(Number.isInteger(callers) && callers > 0)) throw new Error(`--callers must be a positive integer, not ${values.callers}`);
  if (!(timeoutMs > 0)) throw new Error(`--timeout-ms must be a positive number, not ${values['timeout-ms']}`);
  const lalbOptions = parseLalbOptions(values['lalb-options']!);
  const jitter = Number(values.jitter);
  if (!(jitter >= 0 && jitter < 1)) throw new Error(`--jitter must be a fraction from 0 to below 1, not ${values.jitter}`);
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
    jitter,
    lalbOptions,
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
  const model = runModel(modelSettings, DELAYS_MS, [...DELAYS_MS].reverse(), lalbOptions);
  const modelBrpc = runModel(modelSettings, DELAYS_MS, [...DELAYS_MS].reverse(), BRPC_EXACT);
  say(`pick cost: ${pickSettings.endpoints} endpoints, ${pickSettings.rounds} rounds of ${pickSettings.picks} picks`);
  const pickCost = measurePickCost(pickSettings);
  const after = machine();
  const report = buildReport({
    quick,
    settings,
    scenario,
    modelSettings,
    model,
    modelBrpc,
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

/** The JSON of `--lalb-options`, with null standing for Infinity (JSON has no Infinity). */
function parseLalbOptions(text: string): LalbOptions {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`--lalb-options must be a JSON object, e.g. '{"minQpsRatio":0}': ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`--lalb-options must be a JSON object, not ${text}`);
  }
  return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, v === null ? Number.POSITIVE_INFINITY : v])) as LalbOptions;
}

main().then(
  () => process.exit(0),
  (error: Error) => {
    console.error(error.stack ?? error.message);
    process.exit(1);
  },
);
