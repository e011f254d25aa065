import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Code, RpcClient, type Registry } from '@trellis/core';
import { breaker } from '@trellis/breaker';
import { etcdRegistry } from '@trellis/discovery-etcd';
import { health } from '@trellis/health';
import { retry } from '@trellis/retry';
import { loadEchoService, startEtcd, type EtcdServer } from '@trellis/testkit';
import { CALL_TIMEOUT_MS, ECHO_ATTEMPT_TIMEOUT_MS } from './governance.js';
import { faultHits, summarize, type ScenarioSummary } from './report.js';
import type { RunOptions } from './scenarios.js';
import { SendLog } from './send-log.js';
import { drive } from './traffic.js';
import type { WorkerGroupMessage, WorkerGroupProviderArgs } from './worker-group-provider.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** etcd, one provider process with 2 workers registered in it, and a consumer with retry, health and breaker. */
class WorkerGroupSetup {
  readonly messages: WorkerGroupMessage[] = [];
  /** Every failed send of the consumer's calls: which calls a fault hit, and how. */
  readonly sends = new SendLog();
  client!: RpcClient;
  private consumerRegistry!: Registry;
  private child!: ChildProcess;
  private readonly listeners = new Set<() => void>();

  private constructor(readonly etcd: EtcdServer) {}

  static async start(attemptTimeoutMs = ECHO_ATTEMPT_TIMEOUT_MS): Promise<WorkerGroupSetup> {
    const setup = new WorkerGroupSetup(await startEtcd());
    try {
      const args: WorkerGroupProviderArgs = { etcdEndpoints: setup.etcd.endpoints, workers: 2, delayMs: 20 };
      // The compiled module (also when this file runs as TypeScript under tap); execArgv: [] — a test
      // runner's loader flags would only slow the primary and every worker down.
      const entry = join(__dirname, '..', 'dist', 'worker-group-provider.js');
      setup.child = fork(entry, [JSON.stringify(args)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
      setup.child.on('message', (m: WorkerGroupMessage) => {
        setup.messages.push(m);
        for (const l of [...setup.listeners]) l();
      });
      await setup.next((m) => 'ready' in m, 0);
      setup.consumerRegistry = setup.makeRegistry();
      setup.client = new RpcClient({
        service: loadEchoService(),
        registry: setup.consumerRegistry,
        timeoutMs: CALL_TIMEOUT_MS,
        // Several connections: node:cluster gives each new one to the next worker.
        tcp: { connectionsPerEndpoint: 4, backoff: { initialMs: 20, maxMs: 500 } },
        plugins: [
          health({ intervalMs: 200, timeoutMs: 300, failureThreshold: 2 }),
          // One instance stands for every worker: a retry must be allowed back to the endpoint that
          // failed (another connection, another worker) — fallbackToFailed.
          // The attempt timeout for Echo only, as in every scenario (governance.ts says why).
          retry({
            maxAttempts: 4, methods: { Echo: { attemptTimeoutMs } }, retryOn: [Code.UNAVAILABLE],
            fallbackToFailed: true, budget: { ratio: 0.5, minPerSecond: 100, windowMs: 10_000 },
          }),
          breaker(),
          setup.sends.plugin,
        ],
      });
      await setup.client.waitForReady({ timeoutMs: 60_000, minEndpoints: 1 });
      return setup;
    } catch (error) {
      await setup.close();
      throw error;
    }
  }

  makeRegistry(): Registry {
    return etcdRegistry({ endpoints: this.etcd.endpoints, ttlSeconds: 2, snapshotDir: false, onError: () => {} });
  }

  /** What etcd lists now, seen through a fresh subscription (not the consumer's cache). */
  async registeredInstances(): Promise<number> {
    const registry = this.makeRegistry();
    try {
      return await new Promise((resolve) => {
        const subscription = registry.subscribe({ group: 'default', name: 'trellis.test.EchoService' }, (list) => {
          subscription.dispose();
          resolve(list.length);
        });
      });
    } finally {
      await registry.close();
    }
  }

  send(command: 'reload' | 'close'): void {
    this.child.send(command);
  }

  /**
   * The next message from `from` on that matches. The default wait is generous: starting, reloading
   * or replacing workers forks node processes, which took over 20 s on a machine at load 36.
   */
  next(matches: (m: WorkerGroupMessage) => boolean, from: number, timeoutMs = 90_000): Promise<WorkerGroupMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error('the worker-group provider did not answer in time')), timeoutMs);
      const check = () => {
        const found = this.messages.slice(from).find(matches);
        if (found) finish(undefined, found);
        const failed = this.messages.slice(from).find((m) => 'failed' in m);
        if (failed) finish(new Error(`worker-group provider: ${(failed as { failed: string }).failed}`));
      };
      const finish = (error?: Error, found?: WorkerGroupMessage) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        if (error) reject(error);
        else resolve(found!);
      };
      this.listeners.add(check);
      check();
    });
  }

  workerPids(): number[] {
    const ready = this.messages.find((m) => 'ready' in m) as { ready: { pids: number[] } };
    return ready.ready.pids;
  }

  async close(): Promise<void> {
    await this.client?.close();
    await this.consumerRegistry?.close();
    if (this.child && this.child.exitCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGKILL'); // its workers exit with their IPC channel
      await exited;
    }
    await this.etcd.stop();
  }
}

export const WORKER_SCENARIOS: Record<string, (options: RunOptions) => Promise<ScenarioSummary>> = {
  async '9 rolling reload of a multi-worker provider'(options) {
    const setup = await WorkerGroupSetup.start(options.attemptTimeoutMs);
    try {
      const reloads = options.long ? 10 : 2;
      const registered = await setup.registeredInstances();
      const t0 = performance.now();
      const notes = [`etcd lists ${registered} instance for the provider's 2 workers`, '30 % of the calls are the non-idempotent Mutate'];
      const [records, faultAt] = await Promise.all([
        drive(setup.client, { rate: options.rate, durationMs: 1500 + reloads * 2500, mutateShare: 0.3 }, t0),
        (async () => {
          await sleep(1000);
          const at = performance.now() - t0;
          for (let i = 0; i < reloads; i++) {
            const from = setup.messages.length;
            setup.send('reload');
            const done = await setup.next((m) => 'reloaded' in m, from);
            options.log(`  reload ${i + 1}: workers now ${(done as { reloaded: { pids: number[] } }).reloaded.pids.join(', ')}`);
            await sleep(1000);
          }
          return at;
        })(),
      ]);
      return summarize('9 workers reload', records, faultAt, notes);
    } finally {
      await setup.close();
    }
  },

  async '10 kill -9 of one worker'(options) {
    const setup = await WorkerGroupSetup.start(options.attemptTimeoutMs);
    try {
      const duration = options.long ? 60_000 : 6000;
      const t0 = performance.now();
      const notes: string[] = [];
      const [records, faultAt] = await Promise.all([
        drive(setup.client, { rate: options.rate, durationMs: duration, mutateShare: 0.3, sends: setup.sends }, t0),
        (async () => {
          await sleep(duration * 0.3);
          const at = performance.now() - t0;
          const victim = setup.workerPids()[0]!;
          const from = setup.messages.length;
          process.kill(victim, 'SIGKILL');
          await setup.next((m) => 'event' in m && m.event.type === 'ready', from);
          const replacedMs = performance.now() - t0 - at;
          notes.push(`replacement worker ready ${Math.round(replacedMs)} ms after the kill`);
          options.log(`  killed worker ${victim} at ${(at / 1000).toFixed(1)} s; replaced ${Math.round(replacedMs)} ms later`);
          return at;
        })(),
      ]);
      const failedEcho = records.filter((r) => !r.ok && r.method === 'Echo');
      const failedMutate = records.filter((r) => !r.ok && r.method === 'Mutate');
      // Mutate is not idempotent: the kernel retries it only when it provably never ran.
      const neverRan = failedMutate.filter((r) => !r.mayHaveRun).length;
      notes.push(`failed: ${failedMutate.length} Mutate (non-idempotent, in flight on the killed worker; ${neverRan} that never ran), ${failedEcho.length} Echo`);
      // Why calls failed that should not have (each distinct message once, at most 5).
      for (const error of [...new Set(failedEcho.map((r) => r.error))].slice(0, 5)) notes.push(`Echo failed: ${error}`);
      for (const error of [...new Set(failedMutate.filter((r) => !r.mayHaveRun).map((r) => r.error))].slice(0, 5)) notes.push(`Mutate failed without having run: ${error}`);
      // Which calls the kill hit (a send failed on a dropped connection, or never ran), told apart
      // from calls a slow machine answered past the attempt timeout.
      const hits = faultHits(records, faultAt);
      notes.push(`the kill hit ${hits.calls} calls (${hits.inFlight} in flight at it); the last failure it caused came ${Math.round(hits.untilMs)} ms after it`);
      for (const cause of hits.causes) notes.push(`the kill failed a send: ${cause}`);
      if (hits.lateOnly > 0) notes.push(`${hits.lateOnly} other calls after the kill only answered late (attempt timeout: a slow process, not a gone one), the last ${Math.round(hits.lateUntilMs)} ms after it`);
      notes.push(`etcd lists ${await setup.registeredInstances()} instance after the kill`);
      return { ...summarize('10 workers kill -9', records, faultAt, notes), hits };
    } finally {
      await setup.close();
    }
  },
};
