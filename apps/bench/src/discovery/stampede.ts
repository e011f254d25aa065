/**
 * `pnpm --filter @trellis/bench bench:stampede [--only etcd,zookeeper] [--topology single,cluster]
 * [--sessions 500] [--quick]`: the reconnect stampede. For each registry and topology (one server, a
 * 3-member cluster), a fleet of registry clients in several processes settles on it, the registry is
 * killed for 15 s and started again, and everything the fleet does to it in the next 15 s is counted
 * per 100 ms — once with the registries' defaults (jittered), once without jitter, in the same run.
 * Prints a table, writes bench-results/stampede.json and bench-results/stampede.svg.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { stampedeChart } from './stampede-chart.js';
import type { RegistryKind } from './stampede-protocol.js';
import { runStampede, type StampedeResult, type Topology } from './stampede-run.js';

async function main(): Promise<number> {
  const { values } = parseArgs({ options: {
    only: { type: 'string', default: 'etcd,zookeeper' },
    topology: { type: 'string', default: 'single,cluster' },
    sessions: { type: 'string', default: '500' },
    quick: { type: 'boolean', default: false },
    out: { type: 'string', default: resolve(__dirname, '..', '..', '..', '..', 'bench-results') },
  } });
  const sessions = values.quick ? 100 : Number(values.sessions);
  const processes = values.quick ? 2 : 5;
  const results: StampedeResult[] = [];
  const started = new Date().toISOString();
  const load = loadavg()[0]!;
  for (const kind of values.only!.split(',') as RegistryKind[]) {
    for (const topology of values.topology!.split(',') as Topology[]) {
      for (const jitter of [true, false]) {
        console.log(`${kind}, ${topology === 'single' ? 'one server' : '3-member cluster'}, ${jitter ? 'jittered' : 'no jitter'}: ${sessions} registry clients in ${processes} processes`);
        results.push(await runStampede({
          kind, topology, jitter, processes, clientsPerProcess: sessions / processes, providerShare: 0.4, services: 20, servicesPerConsumer: 5,
          outageMs: values.quick ? 5000 : 15_000, observeMs: 15_000, log: (line) => console.log(line),
        }));
        const last = results.at(-1)!;
        console.log(`    peak ${last.peakSessions} sessions in 100 ms (${(last.peakShare * 100).toFixed(1)} %), CPU first 10 s ${last.cpuFirst10sMs} ms, ${last.totals.read} reads, ${last.totals.watch} watches, ${last.totals.create} created, ${last.totals.expired} lost`);
      }
    }
  }
  const rows = [['registry', 'pacing', 'serves after', 'sessions back', 'first / p50 / last (s)', 'peak per 100 ms', 'connections', 'created / granted', 'reads', 'watches set', 'lost', 'CPU first 10 s', 'vs no jitter', 'CPU 10 s from 1st back', 'vs no jitter', 'CPU peak 100 ms', 'consumers complete']];
  for (const r of results) {
    const baseline = results.find((b) => b.kind === r.kind && b.topology === r.topology && !b.jitter);
    const span = r.sessionsBackMs ? [r.sessionsBackMs.first, r.sessionsBackMs.p50, r.sessionsBackMs.last].map((ms) => (ms / 1000).toFixed(1)).join(' / ') : '-';
    rows.push([
      `${r.kind} ${r.topology}`, r.jitter ? 'jittered' : 'no jitter', `${(r.startupMs / 1000).toFixed(1)} s`, `${r.sessionsBack}/${r.sessions}`, span,
      `${r.peakSessions} (${(r.peakShare * 100).toFixed(1)} %)`, String(r.totals.connect), String(r.totals.create), String(r.totals.read),
      String(r.totals.watch), String(r.totals.expired), `${(r.cpuFirst10sMs / 1000).toFixed(2)} s`,
      baseline && baseline !== r && baseline.cpuFirst10sMs > 0 ? `${(r.cpuFirst10sMs / baseline.cpuFirst10sMs).toFixed(2)}×` : '',
      `${(r.cpuAfterBack10sMs / 1000).toFixed(2)} s`,
      baseline && baseline !== r && baseline.cpuAfterBack10sMs > 0 ? `${(r.cpuAfterBack10sMs / baseline.cpuAfterBack10sMs).toFixed(2)}×` : '',
      `${Math.round(r.cpuPeakPercent)} %`,
      `${r.completeConsumers}/${r.consumers}`,
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  console.log('\n' + rows.map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ')).join('\n'));
  mkdirSync(values.out!, { recursive: true });
  const name = values.quick ? 'stampede-quick' : 'stampede';
  writeFileSync(join(values.out!, `${name}.json`), JSON.stringify({ date: started, loadAverage: load, results }, null, 2));
  const subtitle = `${started.slice(0, 16).replace('T', ' ')} UTC · ${processes} processes · 40 % providers (one instance each), 60 % consumers (5 of 20 services each) · 2-core machine shared by other work (load ${load.toFixed(1)})`;
  writeFileSync(join(values.out!, `${name}.svg`), stampedeChart(results, subtitle));
  return 0;
}

main().then((code) => process.exit(code), (error: Error) => {
  console.error(`stampede bench failed: ${error.stack ?? error.message}`);
  process.exit(1);
});
