/**
 * `pnpm bench:discovery [--quick]`: the registry scale benchmark of issue 4, against a real etcd and a
 * real ZooKeeper started on free loopback ports. Prints a table and writes bench-results/discovery.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { etcdRegistry } from '@trellis/discovery-etcd';
import { zookeeperRegistry } from '@trellis/discovery-zk';
import { startEtcd, startZooKeeper } from '@trellis/testkit';
import { runScale, type ScaleOptions, type ScaleResult } from './scale-run.js';

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, out: { type: 'string', default: resolve(__dirname, '..', '..', '..', '..', 'bench-results') }, only: { type: 'string' } } });
  const options: ScaleOptions = values.quick
    ? { services: 10, providersPerService: 10, providerHosts: 5, consumers: 20, servicesPerConsumer: 3, redeployFraction: 0.1, timeoutMs: 30_000 }
    : { services: 100, providersPerService: 10, providerHosts: 50, consumers: 200, servicesPerConsumer: 10, redeployFraction: 0.1, timeoutMs: 120_000 };
  console.log(`discovery scale: ${options.services * options.providersPerService} providers across ${options.services} services ` +
    `(${options.providerHosts} provider-side registry clients), ${options.consumers} consumers × ${options.servicesPerConsumer} services, redeploy ${options.redeployFraction * 100} %`);
  const results: ScaleResult[] = [];
  const only = values.only?.split(',');
  if (!only || only.includes('etcd')) {
    const etcd = await startEtcd();
    try {
      results.push(await runScale('etcd', () => etcdRegistry({ endpoints: etcd.endpoints, snapshotDir: false, onError: () => {} }), options));
    } finally {
      await etcd.stop();
    }
  }
  if (!only || only.includes('zookeeper')) {
    const zk = await startZooKeeper();
    try {
      results.push(await runScale('zookeeper', () => zookeeperRegistry({ connectString: zk.connectString, snapshotDir: false, onError: () => {} }), options));
    } finally {
      await zk.stop();
    }
  }
  const rows = [['registry', 'instances', 'subscriptions', 'register all', 'all consumers converged', 'redeployed', 'propagation p50', 'p99', 'max', 'notifications / subscription (mean, max)', 'changes / subscription']];
  for (const r of results) {
    rows.push([r.registry, String(r.instances), String(r.subscriptions), `${Math.round(r.registerMs)} ms`, `${Math.round(r.convergeMs)} ms`, String(r.redeployed),
      `${Math.round(r.propagationP50Ms)} ms`, `${Math.round(r.propagationP99Ms)} ms`, `${Math.round(r.propagationMaxMs)} ms`,
      `${r.notificationsPerSubscription.mean.toFixed(1)}, ${r.notificationsPerSubscription.max}`, r.changesPerSubscription.toFixed(1)]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  console.log('\n' + rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ')).join('\n'));
  mkdirSync(values.out!, { recursive: true });
  writeFileSync(join(values.out!, values.quick ? 'discovery-quick.json' : 'discovery.json'), JSON.stringify({ date: new Date().toISOString(), options, results }, null, 2));
  return 0;
}

main().then((code) => process.exit(code), (error: Error) => {
  console.error(`discovery bench failed: ${error.stack ?? error.message}`);
  process.exit(1);
});
