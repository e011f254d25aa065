/**
 * Client-side CPU per call of each governance plugin, without a network: the client's transport is
 * an in-memory one that answers every request at once with its own bytes (an echo), so a call is
 * the client's whole per-call work — stub, invocation, interceptors, observers, routers, balancer,
 * codec both ways — and nothing else. Far less noisy than the loopback figures on a shared machine
 * (no server, no socket, no scheduler hand-off between two processes), and it isolates what the
 * kernel's attempt hook changed: the client's plugin layers.
 *
 *   node dist/client-plugin-cost.js [--calls N] [--rounds R]
 *
 * Configurations alternate within each round (bare, all client plugins, all but one for each), and
 * the median of the rounds is printed; the leave-one-out difference is that plugin's cost.
 */
import { parseArgs } from 'node:util';
import { RpcClient, type Endpoint, type Plugin } from '@trellis/core';
import type { ClientTransport, OutboundRequest } from '@trellis/core/spi';
import { loadProto } from '@trellis/codec-protobuf';
import { BENCH_PROTO, makeRequest, type EchoRequest } from './payload.js';
import { clientGovernance, loadedGovernance } from './governance.js';

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

interface Config {
  readonly name: string;
  readonly plugins: () => Plugin[];
}

async function cpuUsPerCall(config: Config, calls: number, inflight: number): Promise<number> {
  const client = new RpcClient({
    service: loadProto(BENCH_PROTO).service('bench.BenchService'),
    addresses: ['127.0.0.1:1'],
    transport: new EchoTransport(),
    timeoutMs: 10_000,
    plugins: config.plugins(),
  });
  const stub = client.stub<{ echo(request: EchoRequest): Promise<unknown> }>();
  const request = makeRequest(1);
  for (let i = 0; i < 2000; i++) await stub.echo(request); // warm-up: JIT, plugin state
  const before = process.cpuUsage();
  let done = 0;
  await new Promise<void>((resolve, reject) => {
    let issued = 0;
    const next = (): void => {
      if (++done === calls) return resolve();
      if (issued < calls) {
        issued++;
        stub.echo(request).then(next, reject);
      }
    };
    for (; issued < inflight; issued++) stub.echo(request).then(next, reject);
  });
  const used = process.cpuUsage(before);
  await client.close();
  return (used.user + used.system) / calls;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { calls: { type: 'string', default: '100000' }, rounds: { type: 'string', default: '5' } } });
  const calls = Number(values.calls);
  const rounds = Number(values.rounds);
  clientGovernance(); // fills loadedGovernance
  const all = [...new Set(loadedGovernance)];
  const skipping = (pkg?: string) => () => {
    process.env.TRELLIS_BENCH_SKIP = pkg ?? '';
    const plugins = clientGovernance();
    process.env.TRELLIS_BENCH_SKIP = '';
    return plugins;
  };
  const configs: Config[] = [
    { name: 'bare kernel', plugins: () => [] },
    { name: 'all client plugins', plugins: skipping() },
    ...all.map((pkg) => ({ name: `all but ${pkg}`, plugins: skipping(pkg) })),
  ];
  const results = new Map<string, number[]>(configs.map((c) => [c.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const config of configs) results.get(config.name)!.push(await cpuUsPerCall(config, calls, 256));
  }
  const allUs = median(results.get('all client plugins')!);
  console.log(`client CPU per call, in-memory echo transport, 256 in flight, ${calls} calls × ${rounds} rounds (median):`);
  for (const config of configs) {
    const us = median(results.get(config.name)!);
    const share = config.name.startsWith('all but ') ? `  → ${config.name.slice(8)} ≈ ${(allUs - us).toFixed(2)} µs` : '';
    console.log(`  ${config.name.padEnd(34)} ${us.toFixed(2).padStart(6)} µs${share}`);
  }
}

void main();
