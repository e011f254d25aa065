'use strict';
// Exact count of calls into @opentelemetry/api per RPC with tracing() on client and server and no SDK
// registered: every function of the API's `trace`, `context` and `propagation` singletons is wrapped
// with a counter, then EchoService calls run over loopback. Not part of the tests. Build first.
//   node bench/api-calls.js [distDir]   (default dist; or another build of this package, e.g. dist-old)
const path = require('node:path');
const api = require('@opentelemetry/api');
const { callsInFlight, createEchoHandlers, loadEchoService } = require('@trellis/testkit');
const { RpcClient, RpcServer } = require('@trellis/core');

const CALLS = 20_000;
const counts = new Map();
for (const [name, target] of [['trace', api.trace], ['context', api.context], ['propagation', api.propagation]]) {
  let proto = target;
  const seen = new Set();
  while (proto && proto !== Object.prototype) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      if (key === 'constructor' || seen.has(key) || typeof target[key] !== 'function') continue;
      seen.add(key);
      const original = target[key];
      const label = `${name}.${key}`;
      target[key] = function (...args) {
        counts.set(label, (counts.get(label) ?? 0) + 1);
        return original.apply(this, args);
      };
    }
    proto = Object.getPrototypeOf(proto);
  }
}

async function main() {
  const dist = process.argv[2] === undefined ? path.resolve(__dirname, '../dist') : path.resolve(process.argv[2]);
  const { tracing } = require(path.join(dist, 'index.js'));
  const server = new RpcServer({ host: '127.0.0.1', plugins: [tracing()] });
  server.addService(loadEchoService(), createEchoHandlers({ servedBy: 'bench' }));
  await server.start();
  const client = new RpcClient({ service: loadEchoService(), addresses: [`127.0.0.1:${server.port}`], plugins: [tracing()] });
  const request = { message: 'hello world', id: '1234567890123', values: [1, 2, 3] };
  const call = () => client.invoke('Echo', request);
  await callsInFlight(2000, 64, call);
  counts.clear();
  await callsInFlight(CALLS, 64, call);
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  console.log(`${path.relative(process.cwd(), dist)}: ${(total / CALLS).toFixed(2)} calls into @opentelemetry/api per RPC (client + server)`);
  for (const [label, n] of [...counts].sort((a, b) => b[1] - a[1])) console.log(`  ${label.padEnd(36)} ${(n / CALLS).toFixed(2)}`);
  await client.close();
  await server.close();
}
main().catch((error) => {
  console.error(error);
  process.exit(1);
});
