import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Behaviour, ProviderConfig, ProviderMessage, ProviderStats } from './provider-protocol.js';

export type { Behaviour, ModuleRef, ProviderConfig, ProviderStats } from './provider-protocol.js';

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface ProviderProcess {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  /** `127.0.0.1:port` */
  readonly address: string;
  /** Asynchronous problems the provider reported (registry errors…). */
  readonly errors: string[];
  stats(): Promise<ProviderStats>;
  setBehaviour(behaviour: Behaviour): Promise<void>;
  /** SIGTERM: graceful close (deregister, GOAWAY, drain); resolves when the process exited. */
  stop(): Promise<void>;
  /** Sends a signal; for SIGKILL/SIGTERM resolves when the process exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGSTOP / SIGCONT: a frozen process keeps its sockets open but answers nothing. */
  pause(): void;
  resume(): void;
}

/**
 * Starts an EchoService provider in its own process (real sockets, real signals). The compiled
 * entry point is dist/provider-main.js, so build the testkit before use (npm test does).
 */
export function startProvider(config: ProviderConfig, options: { startTimeoutMs?: number } = {}): Promise<ProviderProcess> {
  const entry = join(__dirname, '..', 'dist', 'provider-main.js');
  // execArgv: [] — the child runs compiled JS; inheriting a test runner's loader flags only slows it down.
  const child = fork(entry, [JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
  running.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => { running.delete(child); resolve(); }));
  const errors: string[] = [];
  const waiters = new Map<string, ((message: ProviderMessage) => void)[]>();
  child.on('message', (message: ProviderMessage) => {
    if (message.type === 'error') errors.push(message.message);
    const queue = waiters.get(message.type);
    queue?.shift()?.(message);
  });
  const next = (type: ProviderMessage['type']) =>
    new Promise<ProviderMessage>((resolve, reject) => {
      const list = waiters.get(type) ?? [];
      list.push(resolve);
      waiters.set(type, list);
      void exited.then(() => reject(new Error(`provider ${config.name} exited while waiting for "${type}"`)));
    });
  // Only a guard against a provider that never starts: a loaded CI machine took more than 15 s.
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`provider ${config.name} did not start within ${startTimeoutMs} ms`));
    }, startTimeoutMs);
    // The start ends with `ready` or `failed`. An `error` may come first (a registry that answered
    // slowly while the server registered, on a loaded machine): it is kept in `errors`, not fatal.
    const onStartMessage = (first: ProviderMessage): void => {
      if (first.type === 'error') return;
      child.off('message', onStartMessage);
      clearTimeout(timer);
      if (first.type === 'failed') return reject(new Error(`provider ${config.name} failed to start: ${first.message}`));
      if (first.type !== 'ready') return reject(new Error(`provider ${config.name} sent ${first.type} before ready`));
      const port = first.port;
      const alive = () => child.exitCode === null && child.signalCode === null;
      resolve({
        name: config.name,
        pid: child.pid!,
        port,
        address: `127.0.0.1:${port}`,
        errors,
        async stats() {
          const reply = next('stats');
          child.send({ type: 'stats' });
          return (await reply as { stats: ProviderStats }).stats;
        },
        async setBehaviour(behaviour) {
          const reply = next('behaviour-set');
          child.send({ type: 'behaviour', behaviour });
          await reply;
        },
        async stop() {
          if (!alive()) return;
          child.kill('SIGCONT');
          child.kill('SIGTERM');
          await exited;
        },
        async kill(signal = 'SIGKILL') {
          if (!alive()) return;
          child.kill(signal);
          if (signal === 'SIGKILL' || signal === 'SIGTERM') await exited;
        },
        pause: () => void child.kill('SIGSTOP'),
        resume: () => void child.kill('SIGCONT'),
      });
    };
    child.on('message', onStartMessage);
    // A child that dies before it reports (a crash in start-up) fails the start now, not at the guard.
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`provider ${config.name} exited (code ${child.exitCode}, signal ${child.signalCode}) before it was ready${errors.length > 0 ? `: ${errors.join('; ')}` : ''}`));
    });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
