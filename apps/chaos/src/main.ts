/**
 * `pnpm chaos [--long] [--cluster] [--only 1,3,c2] [--rate N]`: the fault suite. Each scenario starts a
 * fresh cluster (a registry server, provider processes, a consumer with retry, health and breaker),
 * drives steady idempotent traffic, injects its fault, and records every call. The registry-cluster
 * scenarios (c1…, 3-member etcd and ZooKeeper clusters) run with --cluster (only them) or --long.
 * Exit code 1 when scenarios 1–4, 7–9 or a cluster scenario lost a call.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { table, type ScenarioSummary } from './report.js';
import { SCENARIOS } from './scenarios.js';

async function main(): Promise<number> {
  const { values } = parseArgs({ options: {
    long: { type: 'boolean', default: false },
    cluster: { type: 'boolean', default: false },
    only: { type: 'string' },
    rate: { type: 'string', default: '200' },
    out: { type: 'string', default: resolve(__dirname, '..', '..', '..', 'bench-results') },
  } });
  const only = values.only?.split(',');
  const summaries: ScenarioSummary[] = [];
  for (const [name, run] of Object.entries(SCENARIOS)) {
    if (only && !only.includes(name.split(' ')[0]!)) continue;
    const isCluster = /^c\d+ /.test(name);
    if (!only && (values.cluster ? !isCluster : isCluster && !values.long)) continue;
    console.log(`scenario ${name}`);
    summaries.push(await run({ long: values.long! || (isCluster && values.cluster!), rate: Number(values.rate), log: (line) => console.log(line) }));
  }
  console.log(`\n${table(summaries)}`);
  mkdirSync(values.out!, { recursive: true });
  writeFileSync(join(values.out!, values.cluster ? 'chaos-cluster.json' : values.long ? 'chaos-long.json' : 'chaos.json'), JSON.stringify({ date: new Date().toISOString(), summaries }, null, 2));
  const mustBeClean = summaries.filter((s) => /^([1-47-9]|c\d+) |\((etcd|zookeeper)\)$/.test(s.scenario) && s.failed > 0);
  return mustBeClean.length > 0 ? 1 : 0;
}

main().then((code) => process.exit(code), (error: Error) => {
  console.error(`chaos failed: ${error.stack ?? error.message}`);
  process.exit(1);
});
