'use strict';
// Per-call cost of @trellis/metrics: EchoService calls in one process over loopback, client and
// server both instrumented, so the figure is the client's and the server's cost together.
// Not part of the tests. Build first: `pnpm exec tsc -p tsconfig.build.json && node bench/per-call.js`.
//
// Each mode runs in a fresh process; modes alternate over several rounds and the median is kept.
// CPU time per call (user + system) is the main figure: it hardly moves when other work shares the
// machine, unlike wall time. In the `+collect` mode the exposition text is built every 100 ms
// during the run (far more often than Prometheus scrapes), so collection is included; the HTTP
// round trip is left out, since a scraper's own fetch would run in this process and be counted.
const { callsInFlight, interleavedModeRounds } = require('@trellis/testkit');

const MODES = {
  none: 'no plugin',
  metrics: 'metrics() on client and server (no HTTP endpoint)',
  'metrics+collect': 'metrics() on both, text() every 100 ms during the run',
};
const CALLS = 200_000;
const WARMUP = 20_000;
const CONCURRENCY = 64;
const ROUNDS = 5;

async function measure(mode) {
  const { RpcClient, RpcServer } = require('@trellis/core');
  const { createEchoHandlers, loadEchoService } = require('@trellis/testkit');
  const { metrics } = require('../dist/index.js');
  const plugin = mode === 'none' ? undefined : metrics();
  const plugins = plugin ? [plugin] : [];
  const server = new RpcServer({ host: '127.0.0.1', plugins });
  server.addService(loadEchoService(), createEchoHandlers({ servedBy: 'bench' }));
  await server.start();
  const client = new RpcClient({ service: loadEchoService(), addresses: [`127.0.0.1:${server.port}`], plugins });
  const request = { message: 'hello world', id: '1234567890123', values: [1, 2, 3] };
  const run = (calls) => callsInFlight(calls, CONCURRENCY, () => client.invoke('Echo', request));
  await run(WARMUP);
  let scrapes = 0;
  const scraper = mode !== 'metrics+collect' ? undefined : setInterval(() => {
    void plugin.text().then(() => scrapes++);
  }, 100);
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  await run(CALLS);
  const wallNs = Number(process.hrtime.bigint() - started) / CALLS;
  const used = process.cpuUsage(cpu);
  clearInterval(scraper);
  const cpuNs = ((used.user + used.system) * 1000) / CALLS;
  // One collection with this workload’s series (Echo, one endpoint), timed on its own.
  let textUs;
  if (plugin) {
    const n = 200;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await plugin.text();
    textUs = Number(process.hrtime.bigint() - t0) / n / 1000;
  }
  await client.close();
  await server.close({ graceMs: 1000 });
  return { wallNs, cpuNs, scrapes, textUs };
}

async function main() {
  if (process.argv[2]) {
    process.send(await measure(process.argv[2]));
    return;
  }
  const results = await interleavedModeRounds(__filename, Object.keys(MODES), ROUNDS);
  const { median } = require('@trellis/core/toolkit');
  const base = median(results.none.map((r) => r.cpuNs));
  console.log(`${CALLS} Echo calls per run, ${CONCURRENCY} in flight, ${ROUNDS} rounds, node ${process.version}; medians`);
  console.log('mode            CPU/call   +vs none   wall/call   what');
  for (const [mode, what] of Object.entries(MODES)) {
    const cpu = median(results[mode].map((r) => r.cpuNs));
    const wall = median(results[mode].map((r) => r.wallNs));
    const delta = mode === 'none' ? '' : `${cpu >= base ? '+' : '−'}${(Math.abs(cpu - base) / 1000).toFixed(2)} µs`;
    console.log(`${mode.padEnd(15)} ${(cpu / 1000).toFixed(2).padStart(6)} µs ${delta.padStart(10)} ${(wall / 1000).toFixed(2).padStart(8)} µs   ${what}`);
  }
  console.log(`one text() of this registry: ${median(results.metrics.map((r) => r.textUs)).toFixed(0)} µs`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
