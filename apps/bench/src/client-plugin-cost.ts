/**
 * Client-side CPU per call of each governance plugin, without a network (the loop in
 * in-memory-echo.ts): the client's transport is an in-memory one that answers every request at once
 * with its own bytes (an echo), so a call is the client's whole per-call work and nothing else. Far less noisy than the loopback figures on a shared machine
 * (no server, no socket, no scheduler hand-off between two processes), and it isolates what the
 * kernel's attempt hook changed: the client's plugin layers.
 *
 *   node dist/client-plugin-cost.js [--calls N] [--rounds R] [--counts]
 *
 * `--counts` prints, instead of CPU, what each configuration does per call, exactly: promises
 * created (an async_hooks init hook) and `performance.now()` reads (the function wrapped), over
 * `--calls` calls plus the 2,000-call warm-up (the client's start-up is counted too: ± 0.01).
 *
 * Configurations alternate within each round (bare, all client plugins, all but one for each, and all
 * of them discovering through a registry that serves rule documents), and the median of the rounds is
 * printed; the leave-one-out difference is that plugin's cost.
 */
import { createHook } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { median } from '@trellis/core/toolkit';
import { clientGovernance, loadedGovernance } from './governance.js';
import { alternatingRounds, type ClientConfig } from './in-memory-echo.js';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { calls: { type: 'string', default: '100000' }, rounds: { type: 'string', default: '5' }, counts: { type: 'boolean', default: false } } });
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
    // The routers follow a live `routes` document there, behind @trellis/rules' gate.
    { name: 'all client plugins, rules registry', plugins: skipping(), rulesRegistry: true },
  ];
  if (values.counts) return printCounts(configs, calls);
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

/** Promises and clock reads per call of each configuration (exact counts, not timings). */
async function printCounts(configs: readonly ClientConfig[], calls: number): Promise<void> {
  const WARM_UP = 2000; // clientCpuUsPerCall's own
  let promises = 0;
  let reads = 0;
  const hook = createHook({ init: (_id, type) => void (type === 'PROMISE' && promises++) });
  const now = performance.now.bind(performance);
  performance.now = () => (reads++, now());
  console.log(`client per call, in-memory echo transport, 256 in flight, ${calls} calls + ${WARM_UP} warm-up (the loop's own .then included):`);
  for (const config of configs) {
    promises = 0;
    reads = 0;
    hook.enable();
    await alternatingRounds([config], { calls, rounds: 1, inflight: 256 });
    hook.disable();
    const n = calls + WARM_UP;
    console.log(`  ${config.name.padEnd(34)} ${(promises / n).toFixed(2)} promises, ${(reads / n).toFixed(2)} clock reads`);
  }
  performance.now = now;
}
