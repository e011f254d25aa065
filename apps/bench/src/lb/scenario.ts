/**
 * The load test: three providers, 50 callers in a closed loop, each balancer in turn with its own
 * client, in two scenarios.
 *
 *  - "1/2/3 ms": service times 1, 2 and 3 ms (warm-up, then a steady phase); then the service times
 *    are reversed (3, 2, 1 ms), the provider with the most traffic is frozen with SIGSTOP, and
 *    thawed with SIGCONT. The adaptive balancers (LALB, P2C) get until their shares settle; round
 *    robin and random, which do not adapt, a fixed short phase each.
 *  - "equal": service times 2 ms ± the jitter on all three (warm-up, steady), with a new client: a
 *    balancer that follows latency should still split the traffic evenly.
 *
 * Every call lands in one CallLog on one timeline.
 */
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { sharesBetween } from './analysis.js';
import { CallLog, RecentShares } from './call-log.js';
import type { LalbOptions } from '@trellis/lb-lalb';
import { ADAPTIVE, BALANCERS, startLoad, type BalancerName, type Load } from './load.js';
import type { DelayMode, ServiceTimeStats } from './provider-protocol.js';
import { startProvider, type Provider } from './providers.js';

export interface ScenarioSettings {
  readonly warmupMs: number;
  readonly steadyMs: number;
  /** The reversal phase ends once the new fastest provider has held most calls for `settledMs`, or after this. */
  readonly maxReverseMs: number;
  readonly freezeMs: number;
  /** The resume phase ends once the resumed provider has held half its old share for `settledMs`, or after this. */
  readonly maxResumeMs: number;
  readonly settledMs: number;
  /** Round robin and random do not adapt: their reversal and resume phases last this long. */
  readonly fixedEventMs: number;
  readonly callers: number;
  readonly timeoutMs: number;
  readonly delay: DelayMode;
  /** Service times drawn from delay × [1 − jitter, 1 + jitter]; 0 = exact (see provider-main.ts). */
  readonly jitter: number;
  /** Options for the LALB runs' balancer (`--lalb-options`); {} for the plugin's defaults. */
  readonly lalbOptions: LalbOptions;
}

/** What an adaptive balancer believed at one moment (snapshot()), per provider in A, B, C order. */
export interface BalancerView {
  readonly atMs: number;
  /** Its latency estimate (ms): LALB's window average with errors folded in, P2C's peak-EWMA. */
  readonly latencyMs: number[];
  /** LALB only: expected share of the next picks (weight / total). */
  readonly share?: number[];
}

export type ScenarioName = 'unequal' | 'equal';
export type PhaseKind = 'warmup' | 'steady' | 'reverse' | 'freeze' | 'resume';

export interface Phase {
  readonly scenario: ScenarioName;
  readonly balancer: BalancerName;
  readonly kind: PhaseKind;
  /** ms on the timeline */
  readonly from: number;
  readonly to: number;
  /** Injected service time per provider during the phase. */
  readonly delaysMs: readonly number[];
  /** Measured by the providers (absent for the frozen one, and for warm-up). */
  readonly serviceTimes?: readonly (ServiceTimeStats | undefined)[];
  /** Client process CPU over the phase, % of one core. */
  readonly clientCpuPct: number;
  /** 1-minute load average at the end of the phase: how busy the shared machine was. */
  readonly loadAvg: number;
  /** Adaptive balancers only: their snapshot(), sampled every 250 ms. */
  readonly view?: BalancerView[];
}

/** The reversal / freeze / resume of one balancer's run. */
export interface EventRun {
  readonly balancer: BalancerName;
  /** Index of the provider frozen: the busiest at the end of the reversal (the fastest, for a balancer that does not adapt). */
  readonly frozen: number;
}

export interface ScenarioResult {
  readonly names: readonly string[];
  readonly initialDelaysMs: readonly number[];
  readonly equalDelayMs: number;
  /** Index of the fastest provider after the reversal. */
  readonly fastest: number;
  readonly runs: readonly EventRun[];
  readonly phases: readonly Phase[];
  readonly log: CallLog;
  readonly end: number;
}

export const NAMES = ['A', 'B', 'C'] as const;
export const DELAYS_MS: readonly number[] = [1, 2, 3];
/** The equal scenario's service time on every provider (± the jitter). */
export const EQUAL_DELAY_MS = 2;

export async function runScenario(settings: ScenarioSettings, say: (line: string) => void): Promise<ScenarioResult> {
  const names = [...NAMES];
  const providers: Provider[] = await Promise.all(names.map((name, i) => startProvider(name, DELAYS_MS[i]!, settings.delay, settings.jitter)));
  const log = new CallLog();
  const phases: Phase[] = [];
  const runs: EventRun[] = [];
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const reversed = [...DELAYS_MS].reverse();
  const fastest = reversed.indexOf(Math.min(...reversed));
  const equal = names.map(() => EQUAL_DELAY_MS);
  try {
    for (const scenario of ['unequal', 'equal'] as const) {
      for (const balancer of BALANCERS) {
        const delays = scenario === 'equal' ? equal : DELAYS_MS;
        await Promise.all(providers.map((p, i) => p.setDelay(delays[i]!)));
        say(`${scenario === 'equal' ? 'equal' : '1/2/3 ms'}, ${balancer}: warm-up ${settings.warmupMs} ms, steady ${settings.steadyMs} ms (service times ${delays.join('/')} ms)`);
        const load = await startLoad({
          balancer,
          names,
          addresses: providers.map((p) => p.address),
          callers: settings.callers,
          timeoutMs: settings.timeoutMs,
          lalbOptions: settings.lalbOptions,
          log,
          t0,
        });
        let frozen = fastest;
        // Each phase: run until `settled` has held for settings.settledMs (checked every 250 ms on
        // the calls completed since the last check) or for `maxMs`, then record it. Service times
        // are read from every provider but a frozen one.
        const phase = async (kind: PhaseKind, maxMs: number, measured: boolean, start?: () => unknown, settled?: (share: number[]) => boolean): Promise<void> => {
          const from = now();
          const cpu = process.cpuUsage();
          const view: BalancerView[] = [];
          const recent = new RecentShares(log, providers.length);
          const started = start?.();
          let heldMs = 0;
          while (now() - from < maxMs - 1 && !(settled && heldMs >= settings.settledMs)) {
            await sleep(Math.min(250, maxMs - (now() - from)));
            const believed = viewOf(load, providers, now());
            if (believed !== undefined) view.push(believed);
            const { calls, share } = recent.next();
            heldMs = settled && calls > 0 && settled(share) ? heldMs + 250 : 0;
          }
          await started;
          const to = now();
          const delaysMs = providers.map((p) => p.delayMs);
          const used = process.cpuUsage(cpu);
          const serviceTimes = await Promise.all(providers.map((p, i) => (kind === 'freeze' && i === frozen ? undefined : p.serviceTimes())));
          phases.push({
            scenario, balancer, kind, from, to, delaysMs,
            ...(measured ? { serviceTimes } : {}),
            clientCpuPct: ((used.user + used.system) / 1000 / (to - from)) * 100,
            loadAvg: loadavg()[0]!,
            ...(view.length > 0 ? { view } : {}),
          });
        };
        await phase('warmup', settings.warmupMs, false);
        await phase('steady', settings.steadyMs, true);
        if (scenario === 'unequal') {
          const adaptive = ADAPTIVE.has(balancer);
          const reverseMs = adaptive ? settings.maxReverseMs : settings.fixedEventMs;
          say(`${balancer}: service times reversed to ${reversed.join(', ')} ms, ${adaptive ? `until ${names[fastest]} has most calls for ${settings.settledMs} ms (at most ${reverseMs} ms)` : `for ${reverseMs} ms`}`);
          // All three at once: the phase starts when the commands are sent, not when the last landed.
          await phase('reverse', reverseMs, true, () => Promise.all(providers.map((p, i) => p.setDelay(reversed[i]!))), adaptive ? (share) => share[fastest]! > 0.5 : undefined);
          // Freezing a provider an adaptive balancer already avoids would show nothing: freeze the
          // busiest one. Round robin and random spread evenly: freeze the fastest, as the others would.
          const before = sharesBetween(log, providers.length, now() - 1000, now()).share;
          frozen = adaptive ? before.indexOf(Math.max(...before)) : fastest;
          const victim = providers[frozen]!;
          say(`${balancer}: ${victim.name} (${Math.round(before[frozen]! * 100)}% of the calls) frozen (SIGSTOP) for ${settings.freezeMs} ms`);
          await phase('freeze', settings.freezeMs, true, () => victim.pause());
          const resumeMs = adaptive ? settings.maxResumeMs : settings.fixedEventMs;
          say(`${balancer}: ${victim.name} resumed (SIGCONT), ${adaptive ? `until it has half its old share back for ${settings.settledMs} ms (at most ${resumeMs} ms)` : `for ${resumeMs} ms`}`);
          await phase('resume', resumeMs, true, () => victim.resume(), adaptive ? (share) => share[frozen]! >= before[frozen]! / 2 : undefined);
          runs.push({ balancer, frozen });
        }
        await load.stop();
      }
    }
  } finally {
    for (const p of providers) p.resume();
    await Promise.all(providers.map((p) => p.stop()));
  }
  return { names, initialDelaysMs: [...DELAYS_MS], equalDelayMs: EQUAL_DELAY_MS, fastest, runs, phases, log, end: now() };
}

function viewOf(load: Load, providers: Provider[], atMs: number): BalancerView | undefined {
  const rows = load.believed();
  if (rows === undefined) return undefined;
  const row = (p: Provider) => rows.find((r) => r.id === p.address);
  const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;
  const lalb = rows.some((r) => r.share !== undefined);
  return {
    atMs: round(atMs, 0),
    latencyMs: providers.map((p) => round(row(p)?.latencyMs ?? 0, 3)),
    ...(lalb ? { share: providers.map((p) => round(row(p)?.share ?? 0, 6)) } : {}),
  };
}

export const machine = (): { cpus: number; loadAvg: number[] } => ({ cpus: cpus().length, loadAvg: loadavg() });
