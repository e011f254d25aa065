/**
 * Limiter benchmark: a provider whose latency grows with its concurrency, offered 3× its capacity,
 * without a limiter and with @trellis/breaker's adaptive concurrency limiter.
 *
 *   pnpm exec tsc -p tsconfig.build.json && node dist/limiter-bench.js      (about 35 s)
 *
 * The provider runs in a child process (this file with the argument `server`). Its latency model
 * is processor sharing: WORKERS cores shared by every call in flight, each call needing SERVICE_MS
 * of work, so a call takes SERVICE_MS alone and SERVICE_MS × n / WORKERS among n calls; capacity is
 * WORKERS / SERVICE_MS calls per ms. The load generator in this process is open loop: it offers
 * calls on a schedule whatever the answers, as independent users do.
 */
import { performance } from 'node:perf_hooks';
import { RpcClient, RpcError, RpcServer, Code, type MessageCodec, type ServiceDefinition } from '@trellis/core';
import { limiter, type GateSnapshot } from '@trellis/breaker';
import { percentile } from '@trellis/core/toolkit';
import { forkReady } from '@trellis/testkit';

const WORKERS = 10;
const SERVICE_MS = 40;
const CAPACITY = (WORKERS / SERVICE_MS) * 1000; // calls per second
const OVERLOAD = 3;
/**
 * "Unloaded": half the capacity, evenly spaced, keeps fewer calls in flight than workers, so no call
 * waits. (The adaptive limiter needs ≥ 100 samples per 1 s window to learn, hence not lower.)
 */
const LIGHT = 0.5;

const json: MessageCodec = {
  encode: (message) => Buffer.from(JSON.stringify(message)),
  decode: (bytes) => JSON.parse(Buffer.from(bytes).toString('utf8')),
};
const WORK_SERVICE: ServiceDefinition = {
  name: 'bench.Overload',
  methods: { Work: { name: 'Work', localName: 'work', requestCodec: json, responseCodec: json, idempotent: true, options: {} } },
};

// ---------------------------------------------------------------------------------------------
// The provider (child process)

interface Job {
  readonly doneAt: number;
  readonly resolve: () => void;
}

/**
 * Processor sharing in real time with virtual progress: every call in flight advances at
 * min(1, workers / n) ms of work per ms, so the oldest call finishes first; one timer waits for it.
 * Progress is integrated exactly between events, so a timer that fires late (a busy machine) delays
 * the answer but wastes no capacity: the model's throughput is the capacity whenever n ≥ workers.
 */
class ProcessorSharing {
  private progress = 0;
  private last = performance.now();
  private readonly queue: Job[] = [];
  private head = 0;
  private readonly finished: Job[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly workers: number, private readonly serviceMs: number) {}

  run(): Promise<void> {
    this.advance();
    return new Promise((resolve) => {
      this.queue.push({ doneAt: this.progress + this.serviceMs, resolve });
      this.schedule();
    });
  }

  private get active(): number {
    return this.queue.length - this.head;
  }

  private rate(): number {
    return this.active === 0 ? 1 : Math.min(1, this.workers / this.active);
  }

  /** Moves progress to now, retiring each call at the instant its work was done. */
  private advance(): void {
    const now = performance.now();
    let at = this.last;
    while (this.active > 0) {
      const rate = this.rate();
      const needed = (this.queue[this.head]!.doneAt - this.progress) / rate;
      if (at + needed > now) break;
      at += Math.max(0, needed);
      this.progress = this.queue[this.head]!.doneAt;
      this.finished.push(this.queue[this.head++]!);
    }
    this.progress += (now - at) * this.rate();
    this.last = now;
    if (this.head > 4096) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (this.active === 0) return;
    const wait = (this.queue[this.head]!.doneAt - this.progress) / this.rate();
    this.timer = setTimeout(this.tick, Math.max(0, wait));
  }

  private readonly tick = (): void => {
    this.advance();
    for (const job of this.finished.splice(0)) job.resolve();
    this.schedule();
  };
}

async function serverMain(withLimiter: boolean): Promise<void> {
  const plugin = withLimiter ? limiter({ services: { '*': { maxConcurrency: 'auto' } } }) : undefined;
  const server = new RpcServer({
    host: '127.0.0.1',
    advertiseHost: '127.0.0.1',
    plugins: plugin ? [plugin] : [],
    // The transport's own cap (1000 streams per connection) would act as a crude limiter; lift it
    // so "no limiter" means none.
    tcp: { maxConcurrentStreams: 1_000_000 },
  });
  const model = new ProcessorSharing(WORKERS, SERVICE_MS);
  server.addService(WORK_SERVICE, {
    work: async (request: { seq: number }) => {
      await model.run();
      return { seq: request.seq };
    },
  });
  await server.start();
  process.on('message', (message: { type: string }) => {
    if (message.type === 'snapshot') process.send!({ type: 'snapshot', gates: plugin?.snapshot() ?? [] });
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ type: 'ready', port: server.port });
}

// ---------------------------------------------------------------------------------------------
// The load generator (this process)

interface Provider {
  readonly port: number;
  snapshot(): Promise<GateSnapshot[]>;
  kill(): Promise<void>;
}

async function startProvider(withLimiter: boolean): Promise<Provider> {
  const { child, ready } = forkReady<{ type: 'ready'; port: number }>(__filename, ['server', withLimiter ? 'limiter' : 'none'], { label: `provider (${withLimiter ? 'limiter' : 'no limiter'})` });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const { port } = await ready;
  return {
    port,
    snapshot: () => new Promise((answer) => {
      child.once('message', (m: { gates: GateSnapshot[] }) => answer(m.gates));
      child.send({ type: 'snapshot' });
    }),
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

interface Sample {
  readonly sentAt: number;
  readonly endedAt: number;
  readonly latencyMs: number;
  readonly ok: boolean;
  readonly code: Code | undefined;
}

interface Run {
  readonly start: number;
  readonly end: number;
  readonly samples: Sample[];
  /** Send times of the calls still unanswered when the run ended. */
  readonly pending: number[];
  /** The limiter's limit at the end of each second, when there is one. */
  readonly limits: (number | undefined)[];
}

/**
 * Offers `qps` calls per second for `durationMs`, open loop, then waits up to `tailMs` for answers.
 * Bounded: exactly qps × duration calls.
 */
async function offer(client: RpcClient, qps: number, durationMs: number, tailMs: number, provider?: Provider): Promise<Run> {
  const total = Math.round((qps * durationMs) / 1000);
  const samples: Sample[] = [];
  const inFlight = new Map<number, number>(); // seq → send time
  let open = true;
  const limits: (number | undefined)[] = [];
  const start = performance.now();
  let sent = 0;
  let nextSecond = start + 1000;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) * qps) / 1000) + 1);
    for (; sent < due; sent++) {
      const sentAt = performance.now();
      const seq = sent;
      inFlight.set(seq, sentAt);
      client.invoke('Work', { seq: sent }).then(
        () => {
          if (!open) return;
          const endedAt = performance.now();
          inFlight.delete(seq);
          samples.push({ sentAt, endedAt, latencyMs: endedAt - sentAt, ok: true, code: undefined });
        },
        (error: unknown) => {
          if (!open) return; // answers after the run (the provider killed under it) are not counted
          const endedAt = performance.now();
          inFlight.delete(seq);
          samples.push({ sentAt, endedAt, latencyMs: endedAt - sentAt, ok: false, code: (error as RpcError).code });
        },
      );
    }
    if (performance.now() >= nextSecond) {
      nextSecond += 1000;
      limits.push(provider ? (await provider.snapshot())[0]?.maxConcurrency : undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const end = performance.now();
  const until = end + tailMs;
  while (inFlight.size > 0 && performance.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
  open = false;
  return { start, end, samples, pending: [...inFlight.values()], limits };
}

interface Figures {
  readonly offered: number;
  readonly goodput: number;
  readonly rejected: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** Figures over the calls *sent* in [from, to) (ms after the run's start). */
function figures(run: Run, from: number, to: number): Figures {
  const seconds = (to - from) / 1000;
  const window = run.samples.filter((s) => s.sentAt - run.start >= from && s.sentAt - run.start < to);
  const good = window.filter((s) => s.ok).map((s) => s.latencyMs);
  const sent = window.length + run.pending.filter((t) => t - run.start >= from && t - run.start < to).length;
  return {
    offered: sent / seconds,
    goodput: good.length / seconds,
    rejected: window.filter((s) => s.code === Code.RESOURCE_EXHAUSTED).length / seconds,
    p50: percentile(good, 50),
    p99: percentile(good, 99),
    max: good.length ? Math.max(...good) : NaN,
  };
}

const fmt = (n: number, digits = 1) => (Number.isNaN(n) ? '—' : n.toFixed(digits)).padStart(8);

function row(label: string, f: Figures): string {
  return `${label.padEnd(44)}${fmt(f.offered, 0)}${fmt(f.goodput, 0)}${fmt(f.rejected, 0)}${fmt(f.p50)}${fmt(f.p99)}${fmt(f.max)}`;
}

/**
 * Per second: calls sent in it that were answered OK and their p99; at the second's end, the calls
 * in flight and how long the oldest of them had been waiting (the latency it will at least have).
 */
function series(run: Run, seconds: number): string[] {
  const lines: string[] = [];
  for (let s = 0; s < seconds; s++) {
    const f = figures(run, s * 1000, (s + 1) * 1000);
    const at = run.start + (s + 1) * 1000;
    let backlog = 0;
    let oldest = at;
    for (const x of run.samples) {
      if (x.sentAt < at && x.endedAt > at) {
        backlog++;
        oldest = Math.min(oldest, x.sentAt);
      }
    }
    for (const t of run.pending) {
      if (t < at) {
        backlog++;
        oldest = Math.min(oldest, t);
      }
    }
    const limit = run.limits[s];
    lines.push(
      `  ${String(s + 1).padStart(2)} s  answered OK ${fmt(f.goodput, 0)}/s  p99 ${fmt(f.p99)} ms  ` +
        `in flight ${String(backlog).padStart(5)}  oldest waiting ${fmt(at - oldest, 0)} ms${limit === undefined ? '' : `  limit ${limit}`}`,
    );
  }
  return lines;
}

async function main(): Promise<void> {
  const started = performance.now();
  console.log(`Limiter benchmark — node ${process.version}, provider in a child process`);
  console.log(`provider: ${WORKERS} workers × ${SERVICE_MS} ms per call, processor sharing → capacity ${CAPACITY} calls/s; load: open loop\n`);

  // 1. No limiter: the unloaded baseline, then 3× capacity.
  let provider = await startProvider(false);
  let client = new RpcClient({ service: WORK_SERVICE, addresses: [`127.0.0.1:${provider.port}`], timeoutMs: 60_000 });
  await client.invoke('Work', { seq: -1 });
  const unloaded = await offer(client, LIGHT * CAPACITY, 5000, 2000);
  const overload = await offer(client, OVERLOAD * CAPACITY, 6000, 0);
  await provider.kill(); // the backlog would take far longer to drain than the run lasted
  await client.close();

  // 2. The adaptive limiter: it first sees ordinary traffic (as in production), then the overload.
  provider = await startProvider(true);
  client = new RpcClient({ service: WORK_SERVICE, addresses: [`127.0.0.1:${provider.port}`], timeoutMs: 60_000 });
  await client.invoke('Work', { seq: -1 });
  const warm = await offer(client, LIGHT * CAPACITY, 4000, 2000, provider);
  const limited = await offer(client, OVERLOAD * CAPACITY, 12_000, 5000, provider);
  const gate = (await provider.snapshot())[0];
  await provider.kill();
  await client.close();

  const base = figures(unloaded, 500, 5000);
  const steady = figures(limited, 4000, 12_000);
  console.log(`${'phase'.padEnd(44)}${'offered'.padStart(8)}${'goodput'.padStart(8)}${'refused'.padStart(8)}${'p50 ms'.padStart(8)}${'p99 ms'.padStart(8)}${'max ms'.padStart(8)}`);
  console.log(row(`unloaded (${LIGHT * CAPACITY}/s), no limiter`, base));
  console.log(row(`${OVERLOAD}× capacity, no limiter (6 s)`, figures(overload, 0, 6000)));
  console.log(row(`unloaded (${LIGHT * CAPACITY}/s), adaptive limiter`, figures(warm, 500, 4000)));
  console.log(row(`${OVERLOAD}× capacity, adaptive limiter, first 4 s`, figures(limited, 0, 4000)));
  console.log(row(`${OVERLOAD}× capacity, adaptive limiter, 4–12 s`, steady));
  console.log(`\n${OVERLOAD}× capacity without a limiter, by second (${overload.pending.length} calls were still unanswered when it was stopped):`);
  for (const line of series(overload, 6)) console.log(line);
  console.log(`\n${OVERLOAD}× capacity with the adaptive limiter, by second:`);
  for (const line of series(limited, 12)) console.log(line);
  if (gate?.auto) {
    console.log(`\nlimiter at the end: limit ${gate.auto.limit}, min latency ${gate.auto.minLatencyMs.toFixed(1)} ms, peak ${gate.auto.peakQps.toFixed(0)} calls/s`);
  }
  const ratio = steady.p99 / base.p99;
  const share = steady.goodput / CAPACITY;
  console.log(`\np99 with the limiter under ${OVERLOAD}× load: ${ratio.toFixed(2)}× the unloaded p99 (target ≤ 2×) ${ratio <= 2 ? 'MET' : 'MISSED'}`);
  console.log(`goodput with the limiter: ${(100 * share).toFixed(1)} % of capacity (target ≥ 90 %) ${share >= 0.9 ? 'MET' : 'MISSED'}`);
  console.log(`(took ${((performance.now() - started) / 1000).toFixed(1)} s)`);
}

if (process.argv[2] === 'server') {
  serverMain(process.argv[3] === 'limiter').catch((error: Error) => {
    console.error(error);
    process.exit(1);
  });
} else {
  main().then(
    () => process.exit(0),
    (error: Error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
