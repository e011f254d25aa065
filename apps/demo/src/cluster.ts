import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { forkReady } from '@trellis/testkit';
import type { Behaviour, ProviderArgs } from './provider.js';

export interface ProviderHandle {
  readonly name: string;
  readonly tags: Readonly<Record<string, string>>;
  /** The native (Trellis) port: the registry key and the endpoint id. */
  readonly port: number;
  /** The same server's standard gRPC port (h2c). */
  readonly grpcPort: number;
  readonly address: string;
  readonly child: ChildProcess;
  /** Resolves when the provider closed gracefully, with how long its drain took (-1: it exited without saying). */
  stop(): Promise<number>;
  setBehaviour(behaviour: Partial<Behaviour>): void;
  kill(signal: NodeJS.Signals): void;
}

/** Starts a Greeter provider in its own process and waits until it listens. */
export async function startProvider(args: ProviderArgs): Promise<ProviderHandle> {
  const { child, ready } = forkReady<{ type: string; port: number; grpcPort: number }>(join(__dirname, 'provider.js'), [JSON.stringify(args)], { label: `provider ${args.name}` });
  const { port, grpcPort } = await ready;
  return {
    name: args.name,
    tags: args.tags ?? {},
    port,
    grpcPort,
    address: `127.0.0.1:${port}`,
    child,
    setBehaviour: (behaviour) => void child.send({ type: 'behaviour', behaviour }),
    kill: (signal) => void child.kill(signal),
    // A provider that exits without reporting its drain resolves too (-1): a stop never hangs
    // the demo's teardown.
    stop: () =>
      new Promise((done) => {
        child.once('message', (m: { type: string; drainedMs?: number }) => m.type === 'closed' && done(m.drainedMs ?? 0));
        child.once('exit', () => done(-1));
        child.kill('SIGTERM');
      }),
  };
}
