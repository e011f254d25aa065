/**
 * `pnpm bench:lb`: the load-balancing benchmark (issues 6 and 21). Real provider processes on
 * loopback, 50 callers in a closed loop; round-robin, random, LALB and P2C in turn, each in two
 * scenarios: service times of 1, 2 and 3 ms, then reversed mid-run, the busiest provider frozen
 * (SIGSTOP) and resumed (SIGCONT); and "equal", 2 ms on every provider. Then the same on a virtual
 * clock (the model), and the cost of one pick over 1,000 endpoints, the hash balancers included.
 *
 *   node dist/lb/main.js                full run (~3–4 min): bench-results/lb.json and lb.svg
 *   node dist/lb/main.js --quick        a few seconds per phase (CI smoke run): lb-quick.json/.svg
 *   --out DIR     where results go      --delay timer   setTimeout service times, as the testkit's
 *   --callers N   (default 50)          --timeout-ms N  per-call timeout (default 500)
 *   --max-reverse-ms N / --max-resume-ms N   caps of the two phases that end when the shares settle
 *   --jitter F    service times uniform in delay × [1 − F, 1 + F] (same mean); default 0.2,
 *                 0 for exact times (see provider-main.ts: exact times march in lockstep)
 *   --lalb-options JSON   options for the LALB run, e.g. '{"minQpsRatio":0,"maxSampleAgeMs":null}'
 *                         (null stands for Infinity: brpc's exact algorithm)
 *
 * The model runs LALB with the LALB run's options, LALB with brpc's exact algorithm (BRPC_EXACT),
 * so the report shows what Trellis's additions change, and P2C.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { lbChart } from './chart.js';
import type { LalbOptions } from '@trellis/lb-lalb';
import { modelBalancers, runEqualModel, runModel, type ModelSettings } from './model.js';
import { measurePickCost, measureTableBuild, type PickCostSettings } from './pick-cost.js';
import type { DelayMode } from './provider-protocol.js';
import { buildReport, chartInput, type ModelName } from './report.js';
import { DELAYS_MS, EQUAL_DELAY_MS, NAMES, machine, runScenario, type ScenarioSettings } from './scenario.js';
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
    ? { warmupMs: 400, steadyMs: 1200, maxReverseMs: 1200, freezeMs: 800, maxResumeMs: 1500, settledMs: 500, fixedEventMs: 500 }
    : { warmupMs: 2000, steadyMs: 10_000, maxReverseMs: 25_000, freezeMs: 5000, maxResumeMs: 20_000, settledMs: 2000, fixedEventMs: 3000 };
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
    ? { callers, timeoutMs, warmupMs: 1000, steadyMs: 2000, maxReverseMs: 15_000, freezeMs: settings.freezeMs, maxResumeMs: 3000, settledMs: 500, jitter: 0.2 }
    : { callers, timeoutMs, warmupMs: 2000, steadyMs: 10_000, maxReverseMs: 60_000, freezeMs: settings.freezeMs, maxResumeMs: 60_000, settledMs: 2000, jitter: 0.2 };
  const pickSettings: PickCostSettings = quick
    ? { endpoints: 1000, warmupPicks: 5000, picks: 20_000, rounds: 3 }
    : { endpoints: 1000, warmupPicks: 100_000, picks: 300_000, rounds: 5 };
  const before = machine();
  const say = (line: string) => console.log(`[lb] ${line}`);
  say(`${callers} callers, per-call timeout ${timeoutMs} ms, ${delay} service times; load average ${before.loadAvg.map((l) => l.toFixed(1)).join(' ')} on ${before.cpus} cores`);

  const scenario = await runScenario(settings, say);
  say('model: the runs again on a virtual clock (LALB, brpc\'s exact LALB, P2C)');
  const makers = modelBalancers(lalbOptions);
  const modelNames = Object.keys(makers) as ModelName[];
  const models = Object.fromEntries(modelNames.map((m) => [m, runModel(modelSettings, DELAYS_MS, [...DELAYS_MS].reverse(), makers[m])])) as Record<ModelName, ReturnType<typeof runModel>>;
  const equalModels = Object.fromEntries(modelNames.map((m) => [m, runEqualModel(modelSettings, NAMES.length, EQUAL_DELAY_MS, makers[m])])) as Record<ModelName, ReturnType<typeof runEqualModel>>;
  say(`pick cost: ${pickSettings.endpoints} endpoints, ${pickSettings.rounds} rounds of ${pickSettings.picks} picks`);
  const pickCost = measurePickCost(pickSettings);
  const tableBuild = measureTableBuild(pickSettings.endpoints, quick ? 1 : 5);
  const after = machine();
  const report = buildReport({
    quick,
    settings,
    scenario,
    modelSettings,
    models,
    equalModels,
    pickSettings,
    pickCost,
    tableBuild,
    machine: { cpus: before.cpus, loadAvgBefore: before.loadAvg, loadAvgAfter: after.loadAvg },
  });
  mkdirSync(values.out!, { recursive: true });
  const name = quick ? 'lb-quick' : 'lb';
  writeFileSync(join(values.out!, `${name}.json`), JSON.stringify(report, null, 2));
  writeFileSync(join(values.out!, `${name}.svg`), lbChart(chartInput(report, scenario, models)));
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
