import { Code, RpcClient, RpcError, WeightedRandomBalancer, type LoadBalancer, type Plugin } from '@trellis/core';
import { breaker, type BreakerPlugin } from '@trellis/breaker';
import { health, LoopStallMonitor, type HealthPlugin } from '@trellis/health';
import { DEFAULT_MAX_SAMPLE_AGE_MS, DEFAULT_WINDOW_SIZE, lalb, type LalbPlugin } from '@trellis/lb-lalb';
import { retry } from '@trellis/retry';
import { loadEchoService, seededRandom, startFaultyProvider, type FaultyProvider } from '@trellis/testkit';
import { WARMUP, type Cell } from './cells.js';
import { shortfallFor } from './expectations.js';

export interface MatrixSettings {
  /** Calls judged per cell: the first this many started after the warm-up. */
  readonly judgedCalls: number;
  /**
   * A cell stops judging this long after its warm-up even with fewer calls. Cells held to the bar
   * get a cap they never reach on a working machine, so they are always judged on their full count;
   * cells with a documented shortfall get a short one, since a frozen provider hangs their callers.
   */
  readonly maxJudgeMs: number;
  readonly shortfallJudgeMs: number;
  /** Callers, each sending its next call when the last one ends (a closed loop). */
  readonly concurrency: number;
  /** The client's default deadline per call. */
  readonly timeoutMs: number;
  /** Healthy traffic before the fault starts, so connections and balancers are warm. */
  readonly preludeMs: number;
  /**
   * …and at least this many calls answered in it. The prelude is the healthy history the breaker's,
   * health's and LALB's windows hold when the fault starts; a loaded machine answers far fewer calls
   * in `preludeMs`, and with 2 providers a window of few successes let p0's first timeouts reach
   * the method circuit's 50 % before p0's own circuit opened (seen at load 30: the method circuit
   * then stayed open, its probes landing on the frozen p0). Counted, the history is the same on any
   * machine: about what `preludeMs` gives on an idle one.
   */
  readonly preludeCalls: number;
  /** Every provider's base latency. */
  readonly latencyMs: number;
  readonly seed: number;
}

/** The short form the test suite runs: every cell, 600 judged calls. */
export const SHORT_SETTINGS: MatrixSettings = {
  judgedCalls: 600, maxJudgeMs: 30_000, shortfallJudgeMs: 1500, concurrency: 4, timeoutMs: 300, preludeMs: 50, preludeCalls: 100, latencyMs: 1, seed: 16,
};

/** `--long`: 10 000 judged calls per cell. */
export const LONG_SETTINGS: MatrixSettings = { ...SHORT_SETTINGS, judgedCalls: 10_000, maxJudgeMs: 300_000, shortfallJudgeMs: 20_000 };

export interface Observations {
  /** Circuits that opened: `endpoint p0 (5 calls in a row failed)`, `method …/Echo (…)`. */
  readonly circuitsOpened: readonly string[];
  /** Health transitions: `p0 healthy → subhealthy (…)`. */
  readonly healthChanges: readonly string[];
  /** LALB's learned mean latency at the end: p0's, and the mean of the others'. */
  readonly lalbLatencyMs: { readonly faulty: number; readonly others: number } | undefined;
  /**
   * The same means as this process measured them: each provider's last answers (up to LALB's window
   * of 128, ended within its 5 s), from the call's start to its answer. A stall of this process
   * lengthens the calls it catches in both figures alike; what LALB adds of its own (a timeout
   * penalty folded into an answer) shows as LALB's figure above this one.
   */
  readonly measuredLatencyMs: { readonly faulty: number; readonly others: number } | undefined;
}

export interface CellResult {
  readonly cell: Cell;
  /** Judged calls (the first `judgedCalls` started after the warm-up). */
  readonly judged: number;
  /** Judged calls that got an answer: a reply, or the business error NOT_FOUND. */
  readonly answered: number;
  /** Judged calls that failed, by code. */
  readonly failures: Readonly<Record<string, number>>;
  readonly firstFailure: string | undefined;
  /** Judged calls each provider answered; index 0 is the faulty one. */
  readonly served: readonly number[];
  /** Of the answers, NOT_FOUND (the business fault). */
  readonly notFound: number;
  /** Calls sent during the warm-up, and how many of them failed. */
  readonly warmup: { readonly calls: number; readonly failed: number };
  /**
   * Calls left out because the test process itself stalled: a provider that answers within
   * milliseconds (in this process; any but a frozen one) timed out while this process's event loop
   * was blocked for ≥ 100 ms. The health plugin discounts such calls the same way. Reported, and
   * replaced by further judged calls, so a machine too loaded for the matrix shows as such instead
   * of as governance failures.
   */
  readonly stalled: number;
  /** What the governance did once the fault was on, by provider name (`p0` is the faulty one). */
  readonly observed: Observations;
  readonly durationMs: number;
}

export function successRatio(result: CellResult): number {
  return result.judged === 0 ? 0 : result.answered / result.judged;
}

interface Governance {
  readonly plugins: Plugin[];
  readonly loadBalancer: LoadBalancer | undefined;
  readonly lalb: LalbPlugin | undefined;
  readonly health: HealthPlugin | undefined;
  readonly breaker: BreakerPlugin | undefined;
}

/** The cell's balancer and plugins, every one with its default options. */
function governance(cell: Cell, seed: number): Governance {
  const set = cell.plugins.split('+');
  // Seeded randomness: a cell draws the same numbers every run (timing still varies).
  const lalbPlugin = cell.balancer === 'lalb' ? lalb({ random: seededRandom(seed) }) : undefined;
  const healthPlugin = set.includes('health') ? health() : undefined;
  const breakerPlugin = set.includes('breaker') ? breaker() : undefined;
  const retryPlugin = set.includes('retry') ? retry({ random: seededRandom(seed + 1) }) : undefined;
  return {
    plugins: [lalbPlugin, healthPlugin, retryPlugin, breakerPlugin].filter((p): p is NonNullable<typeof p> => p !== undefined),
    loadBalancer: cell.balancer === 'random' ? new WeightedRandomBalancer(seededRandom(seed)) : undefined,
    lalb: lalbPlugin,
    health: healthPlugin,
    breaker: breakerPlugin,
  };
}

/** Which provider answered (or, for NOT_FOUND, which one said so): servedBy `p0` / message `p0: …`. */
function providerIndex(text: string): number {
  const match = /^p(\d+)/.exec(text);
  return match === null ? -1 : Number(match[1]);
}

/**
 * One cell: providers in this process on loopback (p0 gets the fault, the others stay healthy), a
 * client with the cell's balancer and plugins, closed-loop traffic of idempotent calls. Healthy for
 * `preludeMs` and `preludeCalls` answered calls, then the fault; calls started within the fault's warm-up are not judged; the next
 * `judgedCalls` are.
 */
export async function runCell(cell: Cell, settings: MatrixSettings): Promise<CellResult> {
  const started = performance.now();
  const stalls = LoopStallMonitor.acquire(50, 100);
  const proxied = cell.fault === 'frozen' || cell.fault === 'dropping';
  const providers: FaultyProvider[] = [];
  try {
    for (let i = 0; i < cell.providers; i++) {
      providers.push(await startFaultyProvider({
        name: `p${i}`, latencyMs: settings.latencyMs, proxied: i === 0 && proxied, random: seededRandom(settings.seed + 7),
      }));
    }
    const chosen = governance(cell, settings.seed);
    const client = new RpcClient({
      service: loadEchoService(),
      addresses: providers.map((p) => p.address),
      timeoutMs: settings.timeoutMs,
      plugins: chosen.plugins,
      ...(chosen.loadBalancer === undefined ? {} : { loadBalancer: chosen.loadBalancer }),
    });
    const names = new Map(providers.map((p) => [p.address, p.name]));
    const nameOf = (id: string) => names.get(id) ?? id;
    const circuitsOpened: string[] = [];
    const healthChanges: string[] = [];
    chosen.breaker?.onStateChange((e) => {
      if (e.to === 'open') circuitsOpened.push(`${e.kind} ${e.kind === 'endpoint' ? nameOf(e.key) : e.key} (${e.reason})`);
    });
    chosen.health?.healthEvents.on('change', (e) => healthChanges.push(`${nameOf(e.endpoint.id)} ${e.from} → ${e.to} (${e.reason})`));
    // Providers that answer within milliseconds: every one but a frozen p0.
    const answering = (cell.fault === 'frozen' ? providers.slice(1) : providers).map((p) => p.address);
    const harnessStall = (error: RpcError, epoch: number): boolean =>
      error.code === Code.DEADLINE_EXCEEDED && stalls.monitor.stalledSince(epoch) && answering.some((address) => error.message.includes(address));
    try {
      const traffic = await drive(cell, settings, client, providers[0]!, () => stalls.monitor.epoch, harnessStall);
      let lalbLatencyMs: Observations['lalbLatencyMs'];
      let measuredLatencyMs: Observations['measuredLatencyMs'];
      const rows = chosen.lalb?.balancers()[0]?.snapshot();
      if (rows !== undefined && rows.length > 0) {
        const others = rows.filter((r) => nameOf(r.id) !== 'p0');
        lalbLatencyMs = {
          faulty: rows.find((r) => nameOf(r.id) === 'p0')?.avgLatencyMs ?? 0,
          others: others.reduce((sum, r) => sum + r.avgLatencyMs, 0) / Math.max(1, others.length),
        };
      }
      if (lalbLatencyMs !== undefined) {
        const means = traffic.answerLatencies.map(recentMean);
        measuredLatencyMs = { faulty: means[0]!, others: means.slice(1).reduce((a, b) => a + b, 0) / Math.max(1, means.length - 1) };
      }
      const { answerLatencies: _, ...figures } = traffic;
      return { cell, ...figures, observed: { circuitsOpened, healthChanges, lalbLatencyMs, measuredLatencyMs }, durationMs: performance.now() - started };
    } finally {
      await client.close();
    }
  } finally {
    stalls.release();
    await Promise.all(providers.map((p) => p.close()));
  }
}

/** LALB's window (its defaults): the last 128 calls, none that ended over 5 s ago. */
const LALB_WINDOW = { calls: DEFAULT_WINDOW_SIZE, ms: DEFAULT_MAX_SAMPLE_AGE_MS } as const;

/** Mean latency of a provider's last answers as LALB's window would hold them: [ended at, ms] in order. */
function recentMean(answers: readonly (readonly [number, number])[]): number {
  const end = performance.now();
  const recent = answers.slice(-LALB_WINDOW.calls).filter(([at]) => end - at <= LALB_WINDOW.ms);
  return recent.length === 0 ? 0 : recent.reduce((sum, [, ms]) => sum + ms, 0) / recent.length;
}

type Traffic = Omit<CellResult, 'cell' | 'observed' | 'durationMs'> & {
  /** Per provider, every answer (a reply or NOT_FOUND) it gave: [ended at, latency ms]. */
  readonly answerLatencies: readonly (readonly [number, number])[][];
};

async function drive(
  cell: Cell,
  settings: MatrixSettings,
  client: RpcClient,
  faulty: FaultyProvider,
  stallEpoch: () => number,
  harnessStall: (error: RpcError, epoch: number) => boolean,
): Promise<Traffic> {
  const echo = client.stub<{ echo(request: object): Promise<{ servedBy: string }> }>().echo;
  const served = new Array<number>(cell.providers).fill(0);
  const answerLatencies = Array.from({ length: cell.providers }, (): [number, number][] => []);
  const answeredBy = (index: number, started: number) => {
    const now = performance.now();
    answerLatencies[index]?.push([now, now - started]);
  };
  const failures: Record<string, number> = {};
  let firstFailure: string | undefined;
  let judged = 0;
  let answered = 0;
  let notFound = 0;
  let stalled = 0;
  const warmup = { calls: 0, failed: 0 };
  const preludeUntil = performance.now() + settings.preludeMs;
  let preludeAnswered = 0;
  let faultAt = Infinity;
  const bound = WARMUP[cell.fault];
  let faultOn = false;
  let judging = false;
  let judgeUntil = Infinity;
  let launched = 0;

  const worker = async (): Promise<void> => {
    for (;;) {
      const now = performance.now();
      if (!faultOn && now >= preludeUntil && preludeAnswered >= settings.preludeCalls) {
        faultOn = true;
        faultAt = now;
        faulty.setFault(cell.fault);
      }
      if (faultOn && !judging && warmup.calls >= bound.calls && now - faultAt >= bound.ms) {
        judging = true;
        judgeUntil = now + (shortfallFor(cell) === undefined ? settings.maxJudgeMs : settings.shortfallJudgeMs);
      }
      // Calls left out as harness stalls do not count toward the judged calls: more are sent instead.
      if (judging && (launched - stalled >= settings.judgedCalls || now >= judgeUntil)) return;
      const isJudged = judging;
      const inPrelude = !faultOn;
      if (isJudged) launched++;
      else if (faultOn) warmup.calls++;
      const epoch = stallEpoch();
      const callStarted = performance.now();
      try {
        const reply = await echo({ message: 'matrix' });
        answeredBy(providerIndex(reply.servedBy), callStarted);
        if (inPrelude) preludeAnswered++;
        if (isJudged) {
          judged++;
          answered++;
          served[providerIndex(reply.servedBy)]!++;
        }
      } catch (thrown) {
        const error = RpcError.from(thrown);
        if (error.code === Code.NOT_FOUND) answeredBy(providerIndex(error.message), callStarted);
        if (!isJudged) {
          if (faultOn && error.code !== Code.NOT_FOUND) warmup.failed++;
          continue;
        }
        if (error.code === Code.NOT_FOUND) {
          // A business answer: the call worked.
          judged++;
          answered++;
          notFound++;
          const index = providerIndex(error.message);
          if (index >= 0) served[index]!++;
          continue;
        }
        if (harnessStall(error, epoch)) {
          stalled++;
          continue;
        }
        judged++;
        const code = Code[error.code] ?? String(error.code);
        failures[code] = (failures[code] ?? 0) + 1;
        firstFailure ??= error.toString();
      }
    }
  };
  await Promise.all(Array.from({ length: settings.concurrency }, worker));
  return { judged, answered, failures, firstFailure, served, notFound, warmup, stalled, answerLatencies };
}
