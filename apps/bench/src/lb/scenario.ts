/**
 * The load test of issue 6: three providers with service times 1, 2 and 3 ms, 50 callers in a closed
 * loop, round-robin, random and LALB in turn (warm-up, then a steady phase each). LALB's run goes on:
 * the service times are reversed (3, 2, 1 ms), then the provider with the most traffic (normally the
 * new fastest) is frozen with SIGSTOP, then thawed with SIGCONT. Every call lands in one CallLog on
 * one timeline.
 */
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { sharesBetween } from './analysis.js';
import { CallLog, RecentShares } from './call-log.js';
import type { LalbOptions } from '@trellis/lb-lalb';
import { startLoad, type BalancerName, type Load } from './load.js';
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
  readonly callers: number;
  readonly timeoutMs: number;
  readonly delay: DelayMode;
  /** Service times drawn from delay × [1 − jitter, 1 + jitter]; 0 = exact (see provider-main.ts). */
  readonly jitter: number;
  /** Options for the LALB run's balancer (`--lalb-options`); {} for the plugin's defaults. */
  readonly lalbOptions: LalbOptions;
}

/** What LALB believed at one moment (snapshot()), per provider in A, B, C order. */
export interface LalbView {
  readonly atMs: number;
  /** Expected share of the next picks (weight / total). */
  readonly share: number[];
  /** Average latency over its window of calls, errors folded in (ms). */
  readonly avgLatencyMs: number[];
  /** The rate its weight was computed from. */
  readonly qps: number[];
}

export type PhaseKind = 'warmup' | 'steady' | 'reverse' | 'freeze' | 'resume';

export interface Phase {
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
  /** LALB only: its snapshot(), sampled every 250 ms. */
  readonly lalbView?: LalbView[];
}

export interface ScenarioResult {
  readonly names: readonly string[];
  readonly initialDelaysMs: readonly number[];
  /** Index of the fastest provider after the reversal. */
  readonly fastest: number;
  /** Index of the provider frozen: the one with the most traffic at the end of the reversal phase. */
  readonly frozen: number;
  readonly phases: readonly Phase[];
  readonly log: CallLog;
  readonly end: number;
}

export const NAMES = ['A', 'B', 'C'] as const;
export const DELAYS_MS: readonly number[] = [1, 2, 3];

export async function runScenario(settings: ScenarioSettings, say: (line: string) => void): Promise<ScenarioResult> {
  const names = [...NAMES];
  const providers: Provider[] = await Promise.all(names.map((name, i) => startProvider(name, DELAYS_MS[i]!, settings.delay, settings.jitter)));
  const log = new CallLog();
  const phases: Phase[] = [];
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const reversed = [...DELAYS_MS].reverse();
  const fastest = reversed.indexOf(Math.min(...reversed));
  let frozen = fastest;
  try {
    for (const balancer of ['round-robin', 'random', 'lalb'] as const) {
      await Promise.all(providers.map((p, i) => p.setDelay(DELAYS_MS[i]!)));
      say(`${balancer}: warm-up ${settings.warmupMs} ms, steady ${settings.steadyMs} ms`);
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
      // Each phase: run until `settled` has held for settings.settledMs (checked every 250 ms on
      // the calls completed since the last check) or for `maxMs`, then record it. Service times
      // are read from every provider but a frozen one.
      const phase = async (kind: PhaseKind, maxMs: number, measured: boolean, start?: () => unknown, settled?: (share: number[]) => boolean): Promise<void> => {
        const from = now();
        const cpu = process.cpuUsage();
        const lalbView: LalbView[] = [];
        const recent = new RecentShares(log, providers.length);
        const started = start?.();
        let heldMs = 0;
        while (now() - from < maxMs - 1 && !(settled && heldMs >= settings.settledMs)) {
          await sleep(Math.min(250, maxMs - (now() - from)));
          if (load.lalb) lalbView.push(view(load, providers, now()));
          const { calls, share } = recent.next();
          heldMs = settled && calls > 0 && settled(share) ? heldMs + 250 : 0;
        }
        await started;
        const to = now();
        const delaysMs = providers.map((p) => p.delayMs);
        const used = process.cpuUsage(cpu);
        const serviceTimes = await Promise.all(providers.map((p, i) => (kind === 'freeze' && i === frozen ? undefined : p.serviceTimes())));
        phases.push({
          balancer, kind, from, to, delaysMs,
          ...(measured ? { serviceTimes } : {}),
          clientCpuPct: ((used.user + used.system) / 1000 / (to - from)) * 100,
          loadAvg: loadavg()[0]!,
          ...(load.lalb ? { lalbView } : {}),
        });
      };
      await phase('warmup', settings.warmupMs, false);
      await phase('steady', settings.steadyMs, true);
      if (balancer === 'lalb') {
        say(`lalb: service times reversed to ${reversed.join(', ')} ms, until ${names[fastest]} has most calls for ${settings.settledMs} ms (at most ${settings.maxReverseMs} ms)`);
        // All three at once: the phase starts when the commands are sent, not when the last landed.
        await phase('reverse', settings.maxReverseMs, true, () => Promise.all(providers.map((p, i) => p.setDelay(reversed[i]!))), (share) => share[fastest]! > 0.5);
        // Freezing a provider LALB already avoids would show nothing: freeze the busiest one.
        const before = sharesBetween(log, providers.length, now() - 1000, now()).share;
        frozen = before.indexOf(Math.max(...before));
        const victim = providers[frozen]!;
        say(`lalb: ${victim.name} (${Math.round(before[frozen]! * 100)}% of the calls) frozen (SIGSTOP) for ${settings.freezeMs} ms`);
        await phase('freeze', settings.freezeMs, true, () => victim.pause());
        say(`lalb: ${victim.name} resumed (SIGCONT), until it has half its old share back for ${settings.settledMs} ms (at most ${settings.maxResumeMs} ms)`);
        await phase('resume', settings.maxResumeMs, true, () => victim.resume(), (share) => share[frozen]! >= before[frozen]! / 2);
      }
      await load.stop();
    }
  } finally {
    for (const p of providers) p.resume();
    await Promise.all(providers.map((p) => p.stop()));
  }
  return { names, initialDelaysMs: [...DELAYS_MS], fastest, frozen, phases, log, end: now() };
}

function view(load: Load, providers: Provider[], atMs: number): LalbView {
  const rows = load.lalb!.snapshot();
  const row = (p: Provider) => rows.find((r) => r.id === p.address);
  const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;
  return {
    atMs: round(atMs, 0),
    share: providers.map((p) => round(row(p)?.share ?? 0, 6)),
    avgLatencyMs: providers.map((p) => round(row(p)?.avgLatencyMs ?? 0, 3)),
    qps: providers.map((p) => round(row(p)?.qps ?? 0, 1)),
  };
}

export const machine = (): { cpus: number; loadAvg: number[] } => ({ cpus: cpus().length, loadAvg: loadavg() });
