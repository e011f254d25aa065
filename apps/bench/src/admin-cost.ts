/**
 * What the admin console costs a call while nobody looks at it (issue #23's bound: ≤ 0.3 µs). Same
 * method and loop as client-plugin-cost.ts (in-memory-echo.ts): an in-memory echo transport, so a
 * call is the client's whole per-call work and nothing else, client CPU per call measured with
 * process.cpuUsage. Four configurations alternate within each round — the bare kernel and the
 * kernel with metrics + health + lalb, each with and without admin() — and the median of the rounds
 * is printed with the differences. The console listens (port 0, loopback) and samples once a second, as in production.
 *
 *   node dist/admin-cost.js [--calls N] [--rounds R]
 */
import { parseArgs } from 'node:util';
import type { Plugin } from '@trellis/core';
import { median } from '@trellis/core/toolkit';
import { admin } from '@trellis/admin';
import { health } from '@trellis/health';
import { lalb } from '@trellis/lb-lalb';
import { metrics } from '@trellis/metrics';
import { alternatingRounds, type ClientConfig } from './in-memory-echo.js';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { calls: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '7' } } });
  const calls = Number(values.calls);
  const rounds = Number(values.rounds);
  const governance = (): Plugin[] => [health({ loopStall: false }), lalb(), metrics()];
  const configs: ClientConfig[] = [
    { name: 'bare kernel', plugins: () => [] },
    { name: 'bare kernel + admin', plugins: () => [admin()] },
    { name: 'health + lalb + metrics', plugins: governance },
    { name: 'health + lalb + metrics + admin', plugins: () => [...governance(), admin()] },
  ];
  const results = await alternatingRounds(configs, { calls, rounds, inflight: 256 });
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
