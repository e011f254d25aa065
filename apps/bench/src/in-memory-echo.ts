/**
 * The measuring loop of the no-network client benches (client-plugin-cost.ts, admin-cost.ts): the
 * client's transport is an in-memory one that answers every request at once with its own bytes (an
 * echo), so a call is the client's whole per-call work — stub, invocation, interceptors, observers,
 * routers, balancer, codec both ways — and nothing else; client CPU per call is read with
 * process.cpuUsage. Configurations alternate within each round, so drift on a shared machine falls
 * on all of them alike.
 */
import { MemoryRegistry, RpcClient, type Endpoint, type Plugin } from '@trellis/core';
import type { ClientTransport, OutboundRequest } from '@trellis/core/spi';
import { loadProto } from '@trellis/codec-protobuf';
import { BENCH_PROTO, makeRequest, type EchoRequest } from './payload.js';

const NO_METADATA: ReadonlyMap<string, string> = new Map();

/** The kernel's `ResponseSink` (spelled out so this script also builds against a kernel without it). */
interface Sink {
  onResponse(body: Uint8Array, metadata: ReadonlyMap<string, string>): void;
}

/** Answers every request at once with its own body (the echo a server would send back). */
class EchoTransport implements ClientTransport {
  send(_endpoint: Endpoint, request: OutboundRequest, sink: Sink): void {
    sink.onResponse(request.body, NO_METADATA);
  }
  call(_endpoint: Endpoint, request: OutboundRequest) {
    return Promise.resolve({ body: request.body, metadata: NO_METADATA });
  }
  ping() {
    return Promise.resolve(0.05);
  }
  state() {
    return 'ready' as const;
  }
  onStateChange() {
    return { dispose() {} };
  }
  retain() {}
  async close() {}
}

export interface ClientConfig {
  readonly name: string;
  /** Called once per round: each round's client gets fresh plugin objects. */
  readonly plugins: () => Plugin[];
  /**
   * Discover the provider in a registry that serves rule documents (a MemoryRegistry holding a
   * `routes` document) instead of a fixed address, so rule-reading plugins follow a live document
   * and install @trellis/rules' gate, which holds the first calls until it arrived.
   */
  readonly rulesRegistry?: boolean;
}

const SERVICE_NAME = 'bench.BenchService';

/** A registry listing the one (echo) provider, with a live `routes` document for it. */
async function rulesServingRegistry(): Promise<MemoryRegistry> {
  const registry = new MemoryRegistry();
  const key = { group: 'default', name: SERVICE_NAME, version: '' };
  await registry.register(key, { host: '127.0.0.1', port: 1, weight: 100, version: '', tags: {}, protocol: 'trellis', startedAt: Date.now() });
  await registry.putConfig(key, 'routes', 'version: bench\n'); // no rules: what is measured is following it
  return registry;
}

/** A client on the echo transport with these plugins, its stub and a request, warmed up by 2,000 calls (JIT, plugin state). */
export async function warmEchoClient(plugins: Plugin[], rulesRegistry = false): Promise<{ client: RpcClient; echoCalls: (calls: number, inflight: number) => Promise<void> }> {
  const client = new RpcClient({
    service: loadProto(BENCH_PROTO).service(SERVICE_NAME),
    ...(rulesRegistry ? { registry: await rulesServingRegistry() } : { addresses: ['127.0.0.1:1'] }),
    transport: new EchoTransport(),
    timeoutMs: 10_000,
    plugins,
  });
  const stub = client.stub<{ echo(request: EchoRequest): Promise<unknown> }>();
  const request = makeRequest(1);
  for (let i = 0; i < 2000; i++) await stub.echo(request);
  /** `calls` Echo calls, `inflight` at a time, each sent from the previous one's `.then`. */
  const echoCalls = (calls: number, inflight: number): Promise<void> => new Promise<void>((resolve, reject) => {
    let issued = 0;
    let done = 0;
    const next = (): void => {
      if (++done === calls) return resolve();
      if (issued < calls) {
        issued++;
        stub.echo(request).then(next, reject);
      }
    };
    for (; issued < inflight; issued++) stub.echo(request).then(next, reject);
  });
  return { client, echoCalls };
}

/** Client CPU (user + system) per call, µs: `calls` Echo calls, `inflight` at a time, after a 2,000-call warm-up. */
async function clientCpuUsPerCall(plugins: Plugin[], calls: number, inflight: number, rulesRegistry = false): Promise<number> {
  const { client, echoCalls } = await warmEchoClient(plugins, rulesRegistry);
  const before = process.cpuUsage();
  await echoCalls(calls, inflight);
  const used = process.cpuUsage(before);
  await client.close();
  return (used.user + used.system) / calls;
}

/** Each configuration's CPU per call in every round (configurations alternating within a round), by name. */
export async function alternatingRounds(configs: readonly ClientConfig[], options: { calls: number; rounds: number; inflight: number }): Promise<Map<string, number[]>> {
  const results = new Map<string, number[]>(configs.map((c) => [c.name, []]));
  for (let r = 0; r < options.rounds; r++) {
    for (const config of configs) results.get(config.name)!.push(await clientCpuUsPerCall(config.plugins(), options.calls, options.inflight, config.rulesRegistry));
  }
  return results;
}
