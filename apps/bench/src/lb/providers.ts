/**
 * The benchmark's side of a provider process (provider-main.ts): start it, change its service time,
 * freeze and thaw it with real signals, read its service times, stop it.
 */
import { forkReady } from '@trellis/testkit';
import { join } from 'node:path';
import type { DelayMode, FromProvider, ProviderArgs, ServiceTimeStats, ToProvider } from './provider-protocol.js';

export interface Provider {
  readonly name: string;
  readonly address: string;
  /** Service time injected now. */
  readonly delayMs: number;
  setDelay(ms: number): Promise<void>;
  /** Service times since the previous call (the provider resets its record on every read). */
  serviceTimes(): Promise<ServiceTimeStats>;
  /** SIGSTOP: its sockets stay open, it answers nothing. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  stop(): Promise<void>;
}

export async function startProvider(name: string, delayMs: number, delay: DelayMode, jitter = 0): Promise<Provider> {
  const args: ProviderArgs = { name, delayMs, delay, jitter };
  const { child, ready } = forkReady<Extract<FromProvider, { type: 'ready' }>>(join(__dirname, 'provider-main.js'), [JSON.stringify(args)], { label: `provider ${name}` });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Replies come in the order of the questions, one kind at a time: a FIFO per type suffices.
  const waiting = new Map<string, ((message: FromProvider) => void)[]>();
  child.on('message', (message: FromProvider) => waiting.get(message.type)?.shift()?.(message));
  const ask = <T extends FromProvider>(question: ToProvider, answer: T['type']): Promise<T> =>
    new Promise((resolve, reject) => {
      const queue = waiting.get(answer) ?? [];
      queue.push(resolve as (message: FromProvider) => void);
      waiting.set(answer, queue);
      void exited.then(() => reject(new Error(`provider ${name} exited while waiting for "${answer}"`)));
      child.send(question);
    });
  let current = delayMs;
  const { port } = await ready;
  return {
    name,
    address: `127.0.0.1:${port}`,
    get delayMs() {
      return current;
    },
    async setDelay(ms) {
      await ask({ type: 'delay', ms }, 'delay-set');
      current = ms;
    },
    async serviceTimes() {
      return (await ask<Extract<FromProvider, { type: 'stats' }>>({ type: 'stats' }, 'stats')).stats;
    },
    pause: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      await exited;
    },
  };
}
