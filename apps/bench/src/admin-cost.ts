/**
 * What the admin console costs a call while nobody looks at it (issue #23's bound: ≤ 0.3 µs). Same
 * method as client-plugin-cost.ts: an in-memory echo transport, so a call is the client's whole
 * per-call work and nothing else, client CPU per call measured with process.cpuUsage. Four
 * configurations alternate within each round — the bare kernel and the kernel with metrics + health
 * + lalb, each with and without admin() — and the median of the rounds is printed with the
 * differences. The console listens (port 0, loopback) and samples once a second, as in production.
 *
 *   node dist/admin-cost.js [--calls N] [--rounds R]
 */
import { parseArgs } from 'node:util';
import { RpcClient, type Endpoint, type Plugin } from '@trellis/core';
import type { ClientTransport, OutboundRequest } from '@trellis/core/spi';
import { loadProto } from '@trellis/codec-protobuf';
import { admin } from '@trellis/admin';
import { health } from '@trellis/health';
import { lalb } from '@trellis/lb-lalb';
import { metrics } from '@trellis/metrics';
import { BENCH_PROTO, makeRequest, type EchoRequest } from './payload.js';

const NO_METADATA: ReadonlyMap<string, string> = new Map();

class EchoTransport implements ClientTransport {
  send(_endpoint: Endpoint, request: OutboundRequest, sink: { onResponse(body: Uint8Array, metadata: ReadonlyMap<string, string>): void }): void {
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

async function cpuUsPerCall(plugins: Plugin[], calls: number, inflight: number): Promise<number> {
  const client = new RpcClient({
    service: loadProto(BENCH_PROTO).service('bench.BenchService'),
    addresses: ['127.0.0.1:1'],
    transport: new EchoTransport(),
    timeoutMs: 10_000,
    plugins,
  });
  const stub = client.stub<{ echo(request: EchoRequest): Promise<unknown> }>();
  const request = makeRequest(1);
  for (let i = 0; i < 2000; i++) await stub.echo(request);
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
  const { values } = parseArgs({ options: { calls: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '7' } } });
  const calls = Number(values.calls);
  const rounds = Number(values.rounds);
  const governance = (): Plugin[] => [health({ loopStall: false }), lalb(), metrics()];
  const configs: { name: string; plugins: () => Plugin[] }[] = [
    { name: 'bare kernel', plugins: () => [] },
    { name: 'bare kernel + admin', plugins: () => [admin()] },
    { name: 'health + lalb + metrics', plugins: governance },
    { name: 'health + lalb + metrics + admin', plugins: () => [...governance(), admin()] },
  ];
  const results = new Map<string, number[]>(configs.map((c) => [c.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const config of configs) results.get(config.name)!.push(await cpuUsPerCall(config.plugins(), calls, 256));
  }
  const m = (name: string) => median(results.get(name)!);
  console.log(`client CPU per call, in-memory echo transport, 256 in flight, ${calls} calls × ${rounds} rounds (median):`);
  for (const config of configs) console.log(`  ${config.name.padEnd(34)} ${m(config.name).toFixed(3).padStart(7)} µs`);
  console.log(`  admin, bare kernel:        ${(m('bare kernel + admin') - m('bare kernel')).toFixed(3)} µs per call`);
  console.log(`  admin, with governance:    ${(m('health + lalb + metrics + admin') - m('health + lalb + metrics')).toFixed(3)} µs per call`);
  // Same-round pairs: the difference within each round, whose median is less exposed to drift.
  const pairs = (a: string, b: string) => median(results.get(a)!.map((x, i) => x - results.get(b)![i]!));
  console.log(`  paired median differences: ${pairs('bare kernel + admin', 'bare kernel').toFixed(3)} µs (bare), ${pairs('health + lalb + metrics + admin', 'health + lalb + metrics').toFixed(3)} µs (governance)`);
}

void main();
