/**
 * Client-side CPU per call of each governance plugin, without a network (the loop in
 * in-memory-echo.ts): the client's transport is an in-memory one that answers every request at once
 * with its own bytes (an echo), so a call is the client's whole per-call work and nothing else. Far less noisy than the loopback figures on a shared machine
 * (no server, no socket, no scheduler hand-off between two processes), and it isolates what the
 * kernel's attempt hook changed: the client's plugin layers.
 *
 *   node dist/client-plugin-cost.js [--calls N] [--rounds R]
 *
 * Configurations alternate within each round (bare, all client plugins, all but one for each), and
 * the median of the rounds is printed; the leave-one-out difference is that plugin's cost.
 */
import { parseArgs } from 'node:util';
import { median } from '@trellis/core/toolkit';
import { clientGovernance, loadedGovernance } from './governance.js';
import { alternatingRounds, type ClientConfig } from './in-memory-echo.js';

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
  const configs: ClientConfig[] = [
    { name: 'bare kernel', plugins: () => [] },
    { name: 'all client plugins', plugins: skipping() },
    ...all.map((pkg) => ({ name: `all but ${pkg}`, plugins: skipping(pkg) })),
  ];
  const results = await alternatingRounds(configs, { calls, rounds, inflight: 256 });
  const allUs = median(results.get('all client plugins')!);
  console.log(`client CPU per call, in-memory echo transport, 256 in flight, ${calls} calls × ${rounds} rounds (median):`);
  for (const config of configs) {
    const us = median(results.get(config.name)!);
    const share = config.name.startsWith('all but ') ? `  → ${config.name.slice(8)} ≈ ${(allUs - us).toFixed(2)} µs` : '';
    console.log(`  ${config.name.padEnd(34)} ${us.toFixed(2).padStart(6)} µs${share}`);
  }
}

void main();
