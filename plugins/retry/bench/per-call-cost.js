// Per-call cost of @trellis/retry: `pnpm exec tsc -p tsconfig.build.json && node bench/per-call-cost.js [calls]`.
//
// Runs the same successful Echo calls through RpcClient with no plugin, with retry() and with
// retry({ hedge }), and prints ns/call. Two transports:
//   - loopback: a real RpcServer in this process over 127.0.0.1 (what an application sees);
//   - in-memory: a ClientTransport that answers at once, so the whole client pipeline is measured
//     without sockets and the plugin's share is not lost in network noise.
// Calls are kept 64 in flight. Variants are interleaved over several rounds; the median round counts.
'use strict';
const { RpcClient, RpcServer } = require('@trellis/core');
const { createEchoHandlers, loadEchoService } = require('@trellis/testkit');
const { retry } = require('../dist/index.js');

const CALLS = Number(process.argv[2] ?? 200_000);
const ROUNDS = 5;
const CONCURRENCY = 64;
const service = loadEchoService();

/** A transport that answers every call at once with a pre-encoded reply. */
function inMemoryTransport() {
  const body = service.methods.Echo.responseCodec.encode({ message: 'x', servedBy: 'mem', attempt: 1 });
  const response = { body, metadata: new Map() };
  return {
    call: () => Promise.resolve(response),
    ping: () => Promise.resolve(0),
    state: () => 'ready',
    onStateChange: () => ({ dispose() {} }),
    retain() {},
    close: async () => {},
  };
}

async function run(stub, calls) {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next++ < calls) await stub.echo({ message: 'x' });
  }));
  return Number(process.hrtime.bigint() - started) / calls;
}

async function measure(label, makeClient) {
  const variants = {
    none: makeClient([]),
    'retry()': makeClient([retry()]),
    'retry({ hedge })': makeClient([retry({ hedge: { delayMs: 50 } })]),
  };
  const stubs = Object.fromEntries(Object.entries(variants).map(([name, client]) => [name, client.stub()]));
  for (const stub of Object.values(stubs)) await run(stub, Math.min(CALLS, 20_000)); // warm-up (JIT, connections)
  const samples = Object.fromEntries(Object.keys(stubs).map((name) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, stub] of Object.entries(stubs)) samples[name].push(await run(stub, CALLS));
  }
  const { median } = require('@trellis/core/toolkit');
  const base = median(samples.none);
  console.log(`\n${label}: ${CALLS} calls × ${ROUNDS} rounds, ${CONCURRENCY} in flight (median ns/call; min–max)`);
  for (const [name, xs] of Object.entries(samples)) {
    const m = median(xs);
    const delta = name === 'none' ? '' : `  (+${(m - base).toFixed(0)} ns)`;
    console.log(`  ${name.padEnd(18)} ${m.toFixed(0).padStart(6)}  ${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}${delta}`);
  }
  await Promise.all(Object.values(variants).map((c) => c.close()));
}

async function main() {
  const server = new RpcServer({ host: '127.0.0.1', port: 0 });
  const handlers = createEchoHandlers({ servedBy: 'bench' });
  server.addService(service, handlers);
  await server.start();
  const address = `127.0.0.1:${server.port}`;
  await measure('in-memory transport', (plugins) => new RpcClient({ service, addresses: ['127.0.0.1:1'], transport: inMemoryTransport(), plugins }));
  await measure('loopback TCP', (plugins) => new RpcClient({ service, addresses: [address], plugins }));
  await server.close({ graceMs: 0 });
  console.log(`\nnode ${process.version}, ${require('node:os').cpus().length} cores, load ${require('node:os').loadavg().map((l) => l.toFixed(1)).join(' ')}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
