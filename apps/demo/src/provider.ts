/**
 * One Greeter provider process. Started by main.ts with its settings as JSON in argv[2]; reports its
 * port over IPC; takes behaviour changes over IPC (slow, refusing); SIGTERM closes it gracefully.
 * With `workers`, this module is also what each worker process runs (RpcServer({ workers })); the
 * primary alone talks to main.ts, and SIGHUP reloads the workers one at a time.
 */
import 'reflect-metadata';
import cluster from 'node:cluster';
import { Code, RpcError, RpcMethod, RpcServer, RpcService, type Plugin, type Registry, type ServerInvocation } from '@trellis/core';
import { health } from '@trellis/health';
import { GrpcServerTransport, HealthStatusSource, standardServices } from '@trellis/transport-grpc';
import { loadGreeterPackage, type CountRequest, type HelloRequest } from './greeter.js';
import { createRegistry, type RegistryChoice } from './registry-choice.js';
import { visitorEvents, type VisitorsRequest } from './visitor-feed.js';

export interface ProviderArgs {
  readonly name: string;
  readonly registry: RegistryChoice;
  /** Extra service time per call, to make one provider slower than the others. */
  readonly delayMs: number;
  /** Registry tags; `version: v2` marks the gray-release provider. */
  readonly tags?: Readonly<Record<string, string>>;
  /** Serve from this many worker processes (one registered instance); SIGHUP then reloads them. */
  readonly workers?: number;
}

export interface Behaviour {
  delayMs: number;
  /** Fraction of calls refused before any work ("dependency down"): never executed, safe to retry. */
  refuseRate: number;
}

@RpcService('demo.Greeter', { version: '1.0.0' })
class Greeter {
  private readonly remembered = new Set<string>();

  /** `stopping` aborts when the provider begins a graceful stop: open visitor feeds end at once. */
  constructor(private readonly name: string, private readonly behaviour: Behaviour, private readonly stopping: AbortSignal) {}

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
    this.remembered.add(request.name);
    return { message: `${this.remembered.size} visitors so far`, servedBy: this.name };
  }

  /** A server stream (issue #18): the visitor count, one event per shared clock tick. */
  async *visitors(request: VisitorsRequest, call: ServerInvocation) {
    yield* visitorEvents(request, call, this.name, () => this.remembered.size, this.stopping);
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
  // Only a primary registers: workers of a group get no registry (and open no connection to it).
  const registry: Registry | undefined = args.registry.kind === 'static' || !cluster.isPrimary ? undefined : createRegistry(args.registry);
  const behaviour: Behaviour = { delayMs: args.delayMs, refuseRate: 0 };
  const plugins: Plugin[] = [health()];
  const proto = loadGreeterPackage();
  // Standard gRPC on a second port, beside the native protocol: any gRPC client (Python, Go,
  // grpcurl-style tools, Kubernetes probes) can call the same Greeter, through the same interceptors.
  // grpc.health.v1 follows the server's serving state; reflection describes greeter.proto.
  const grpcHealth = new HealthStatusSource();
  const grpc = new GrpcServerTransport({ services: standardServices({ health: grpcHealth, reflection: proto }), health: grpcHealth });
  const server = new RpcServer({
    host: '127.0.0.1',
    registry,
    tags: args.tags,
    plugins,
    listeners: [{ protocol: 'trellis' }, { protocol: 'grpc', transport: grpc }],
    ...(args.workers ? { workers: args.workers } : {}),
  });
  const stopping = new AbortController();
  server.addService(proto.service('demo.Greeter'), new Greeter(args.name, behaviour, stopping.signal));
  await server.start();
  if (!cluster.isPrimary) return; // a worker serves; its primary talks to main.ts
  if (args.workers) {
    process.on('SIGHUP', () => {
      const started = Date.now();
      void server.reload({ graceMs: 5000 }).then(
        () => process.send?.({ type: 'reloaded', ms: Date.now() - started, pids: server.workers.map((w) => w.pid) }),
        (error: Error) => process.send?.({ type: 'reload-failed', message: error.message }),
      );
    });
  }
  process.on('SIGTERM', () => {
    const started = Date.now();
    stopping.abort();
    // Holds the process open through the stop: the gRPC listener destroys a session that does not
    // close by itself on an unref'd timer, which never fires in a process with nothing else alive
    // (the process would end without reporting `closed`).
    const hold = setTimeout(() => undefined, 5000 + 5000);
    void server.close({ graceMs: 5000 }).then(async () => {
      clearTimeout(hold);
      await registry?.close();
      process.send?.({ type: 'closed', drainedMs: Date.now() - started });
      process.exit(0);
    });
  });
  process.on('message', (message: { type: string; behaviour?: Partial<Behaviour> }) => {
    if (message.type === 'behaviour') Object.assign(behaviour, message.behaviour);
  });
  process.on('disconnect', () => process.exit(0));
  const grpcPort = server.listeners.find((listener) => listener.protocol === 'grpc')?.port;
  process.send?.({ type: 'ready', port: server.port, grpcPort });
}

main().catch((error: Error) => {
  process.send?.({ type: 'failed', message: error.message });
  process.exit(1);
});
