/**
 * One Greeter provider process. Started by main.ts with its settings as JSON in argv[2]; reports its
 * port over IPC; takes behaviour changes over IPC (slow, refusing); SIGTERM closes it gracefully.
 */
import 'reflect-metadata';
import { Code, RpcError, RpcMethod, RpcServer, RpcService, type Plugin, type Registry } from '@trellis/core';
import { health } from '@trellis/health';
import { loadGreeter, type CountRequest, type HelloRequest } from './greeter.js';
import { createRegistry, type RegistryChoice } from './registry-choice.js';

export interface ProviderArgs {
  readonly name: string;
  readonly registry: RegistryChoice;
  /** Extra service time per call, to make one provider slower than the others. */
  readonly delayMs: number;
  /** Registry tags; `version: v2` marks the gray-release provider. */
  readonly tags?: Readonly<Record<string, string>>;
}

export interface Behaviour {
  delayMs: number;
  /** Fraction of calls refused before any work ("dependency down"): never executed, safe to retry. */
  refuseRate: number;
}

@RpcService('demo.Greeter', { version: '1.0.0' })
class Greeter {
  private readonly visitors = new Set<string>();

  constructor(private readonly name: string, private readonly behaviour: Behaviour) {}

  @RpcMethod({ idempotent: true })
  async sayHello(request: HelloRequest) {
    await this.work();
    return { message: `Hello, ${request.name}!`, servedBy: this.name };
  }

  @RpcMethod({ idempotent: true })
  async count(request: CountRequest) {
    await this.work();
    const words = request.text.trim() === '' ? 0 : request.text.trim().split(/\s+/).length;
    return { letters: request.text.replace(/\s/g, '').length, words, servedBy: this.name };
  }

  async remember(request: HelloRequest) {
    await this.work();
    this.visitors.add(request.name);
    return { message: `${this.visitors.size} visitors so far`, servedBy: this.name };
  }

  private work(): Promise<void> {
    if (this.behaviour.refuseRate > 0 && Math.random() < this.behaviour.refuseRate) {
      return Promise.reject(new RpcError(Code.UNAVAILABLE, `${this.name}: a dependency is down; request refused before any work`, { mayHaveRun: false }));
    }
    // A little real latency, so p50/p99 mean something, LALB has a difference to learn, and graceful
    // drain has work to wait for.
    return new Promise((resolve) => setTimeout(resolve, 1 + this.behaviour.delayMs));
  }
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as ProviderArgs;
  const registry: Registry | undefined = args.registry.kind === 'static' ? undefined : createRegistry(args.registry);
  const behaviour: Behaviour = { delayMs: args.delayMs, refuseRate: 0 };
  const plugins: Plugin[] = [health()];
  const server = new RpcServer({ host: '127.0.0.1', registry, tags: args.tags, plugins });
  server.addService(loadGreeter(), new Greeter(args.name, behaviour));
  await server.start();
  process.on('SIGTERM', () => {
    const started = Date.now();
    void server.close({ graceMs: 5000 }).then(async () => {
      await registry?.close();
      process.send?.({ type: 'closed', drainedMs: Date.now() - started });
      process.exit(0);
    });
  });
  process.on('message', (message: { type: string; behaviour?: Partial<Behaviour> }) => {
    if (message.type === 'behaviour') Object.assign(behaviour, message.behaviour);
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ type: 'ready', port: server.port });
}

main().catch((error: Error) => {
  process.send?.({ type: 'failed', message: error.message });
  process.exit(1);
});
