/**
 * Bytes allocated per call on the client (bare kernel and all client plugins), on the in-memory echo
 * loop of client-plugin-cost.ts (no network: a call is the client's whole per-call work), with the
 * CPU per call of the same runs. Allocations are V8's sampling heap profiler's, objects that died
 * young included (the scavenger's garbage), every `--interval` bytes on average; the top allocating
 * functions (self bytes per call, by source line) follow each total.
 *
 *   node dist/client-alloc-cost.js [--calls N] [--rounds R] [--interval B] [--top K]
 *
 * Configurations alternate within each round; the median round is printed.
 */
import { Session } from 'node:inspector';
import { parseArgs } from 'node:util';
import type { Plugin } from '@trellis/core';
import { median } from '@trellis/core/toolkit';
import { clientGovernance } from './governance.js';
import { warmEchoClient } from './in-memory-echo.js';

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}

const session = new Session();
session.connect();
function post<T = unknown>(method: string, params: object = {}): Promise<T> {
  return new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result as T))));
}

interface Round {
  bytesPerCall: number;
  usPerCall: number;
  top: Map<string, number>;
}

async function round(plugins: Plugin[], calls: number, interval: number): Promise<Round> {
  const { client, echoCalls } = await warmEchoClient(plugins);
  await post('HeapProfiler.enable');
  await post('HeapProfiler.startSampling', { samplingInterval: interval, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  const before = process.cpuUsage();
  await echoCalls(calls, 256);
  const used = process.cpuUsage(before);
  const { profile } = await post<{ profile: { head: HeapNode } }>('HeapProfiler.stopSampling');
  await post('HeapProfiler.disable');
  await client.close();
  const top = new Map<string, number>();
  let total = 0;
  const walk = (node: HeapNode): void => {
    if (node.selfSize > 0) {
      const frame = node.callFrame;
      const file = frame.url.replace(/^.*\/(packages|plugins|apps)\//, '$1/').replace(/^node:/, '');
      const key = `${frame.functionName || '(anonymous)'} ${file}:${frame.lineNumber + 1}`;
      top.set(key, (top.get(key) ?? 0) + node.selfSize);
      total += node.selfSize;
    }
    for (const child of node.children) walk(child);
  };
  walk(profile.head);
  for (const [key, bytes] of top) top.set(key, bytes / calls);
  return { bytesPerCall: total / calls, usPerCall: (used.user + used.system) / calls, top };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    calls: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '3' },
    interval: { type: 'string', default: '1024' }, top: { type: 'string', default: '14' },
  } });
  const calls = Number(values.calls);
  const configs: { name: string; plugins: () => Plugin[] }[] = [
    { name: 'bare kernel', plugins: () => [] },
    { name: 'all client plugins', plugins: () => clientGovernance() },
  ];
  const rounds = new Map<string, Round[]>(configs.map((c) => [c.name, []]));
  for (let r = 0; r < Number(values.rounds); r++) {
    for (const config of configs) rounds.get(config.name)!.push(await round(config.plugins(), calls, Number(values.interval)));
  }
  console.log(`client per call, in-memory echo transport, 256 in flight, ${calls} calls × ${values.rounds} rounds (median; heap sampled every ~${values.interval} B, dead objects included):`);
  for (const config of configs) {
    const list = rounds.get(config.name)!;
    const bytes = median(list.map((x) => x.bytesPerCall));
    const middle = list.find((x) => x.bytesPerCall === bytes) ?? list[0]!;
    console.log(`  ${config.name.padEnd(20)} ${bytes.toFixed(0).padStart(5)} B/call  ${median(list.map((x) => x.usPerCall)).toFixed(2).padStart(6)} µs/call CPU`);
    const sorted = [...middle.top].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top));
    for (const [key, perCall] of sorted) console.log(`      ${perCall.toFixed(0).padStart(5)} B  ${key}`);
  }
}

void main();
