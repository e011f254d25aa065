/**
 * The gRPC benchmark: the Trellis gRPC engines (@trellis/transport-grpc) against @grpc/grpc-js, in
 * one run, each pairing a server process and a client process pinned to separate cores. Rounds of
 * all pairings are interleaved, so a shared machine's load swings hit every side alike; the ratios
 * the targets are stated in (issue #19) are computed from medians within the run.
 *
 *   node apps/bench/dist/grpc/main.js            full run (~2 min)
 *   node apps/bench/dist/grpc/main.js --quick    smoke run (~15 s): completion and zero errors only
 *   --only ID,ID                                 only these points (ids in POINTS), e.g. for a profile
 *   --out DIR                                    where grpc.json goes (default bench-results/)
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { forkReady } from '@trellis/testkit';
import type { Side } from './sides.js';
import type { GrpcWorkerArgs, RoundReport, ToGrpcWorker } from './worker.js';
import { median } from '@trellis/core/toolkit';

interface Pairing {
  readonly server: Side;
  readonly client: Side;
}

interface Point {
  readonly id: string;
  readonly pairing: Pairing;
  readonly mode: 'unary' | 'stream';
  readonly concurrency: number;
  readonly label: string;
  /** Context only, left out of the --quick smoke run. */
  readonly fullRunOnly?: boolean;
}

const T: Side = 'trellis';
const G: Side = 'grpc-js';
const B: Side = 'node-http2';
const TN: Side = 'trellis-nghttp2';
const POINTS: Point[] = [
  { id: 'server-trellis@32', pairing: { server: T, client: G }, mode: 'unary', concurrency: 32, label: 'grpc-js client → Trellis server, 32 in flight' },
  { id: 'grpc-js@32', pairing: { server: G, client: G }, mode: 'unary', concurrency: 32, label: 'grpc-js client → grpc-js server, 32 in flight' },
  { id: 'client-trellis@32', pairing: { server: G, client: T }, mode: 'unary', concurrency: 32, label: 'Trellis client → grpc-js server, 32 in flight' },
  { id: 'trellis@32', pairing: { server: T, client: T }, mode: 'unary', concurrency: 32, label: 'Trellis client → Trellis server, 32 in flight' },
  { id: 'trellis@256', pairing: { server: T, client: T }, mode: 'unary', concurrency: 256, label: 'Trellis client → Trellis server, 256 in flight' },
  { id: 'grpc-js@256', pairing: { server: G, client: G }, mode: 'unary', concurrency: 256, label: 'grpc-js client → grpc-js server, 256 in flight' },
  // The CPU targets' ceilings: bare node:http2 in the Trellis engine's place, under the same peer.
  { id: 'server-trellis-nghttp2@32', pairing: { server: TN, client: G }, mode: 'unary', concurrency: 32, label: 'grpc-js client → Trellis server on node:http2, 32', fullRunOnly: true },
  { id: 'server-bare@32', pairing: { server: B, client: G }, mode: 'unary', concurrency: 32, label: 'grpc-js client → bare node:http2 server, 32' },
  { id: 'client-bare@32', pairing: { server: G, client: B }, mode: 'unary', concurrency: 32, label: 'bare node:http2 client → grpc-js server, 32' },
  { id: 'node-http2@32', pairing: { server: B, client: B }, mode: 'unary', concurrency: 32, label: 'bare node:http2 echo (the ceiling), 32 in flight' },
  { id: 'node-http2@256', pairing: { server: B, client: B }, mode: 'unary', concurrency: 256, label: 'bare node:http2 echo (the ceiling), 256 in flight' },
  { id: 'stream-trellis', pairing: { server: T, client: T }, mode: 'stream', concurrency: 1, label: 'one server stream, Trellis → Trellis' },
  { id: 'stream-grpc-js', pairing: { server: G, client: G }, mode: 'stream', concurrency: 1, label: 'one server stream, grpc-js → grpc-js' },
];

function pin(pid: number, core: number): void {
  if (cpus().length < 2) return;
  try {
    execFileSync('taskset', ['-p', '-c', String(core), String(pid)], { stdio: 'ignore' });
  } catch {
    // No taskset: unpinned ratios are still comparable within the run.
  }
}

async function spawn(args: GrpcWorkerArgs, core: number): Promise<{ child: ChildProcess; port?: number }> {
  const { child, ready } = forkReady<{ type: 'ready'; port?: number }>(join(__dirname, 'worker.js'), [JSON.stringify(args)], { label: `${args.role} ${args.side}` });
  pin(child.pid!, core);
  return { child, port: (await ready).port };
}

function ask<T>(child: ChildProcess, message: ToGrpcWorker, reply: string): Promise<T> {
  return new Promise((resolvePromise) => {
    const onMessage = (m: { type: string }) => {
      if (m.type !== reply) return;
      child.off('message', onMessage);
      resolvePromise(m as T);
    };
    child.on('message', onMessage);
    child.send(message);
  });
}

interface Measured {
  rate: number;
  clientUsPerItem: number;
  serverUsPerItem: number;
  count: number;
  errors: number;
  firstError?: string;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      out: { type: 'string', default: resolve(__dirname, '..', '..', '..', '..', 'bench-results') },
    },
  });
  const only = values.only?.split(',');
  const points = only === undefined ? POINTS.filter((p) => !(values.quick && p.fullRunOnly)) : POINTS.filter((p) => only.includes(p.id));
  // The warm-up is also counted in calls: on a crowded machine 1.5 s can be a few hundred calls,
  // too few for V8 to optimise either library's call path, and the rounds would measure its interpreter.
  const settings = values.quick ? { warmupMs: 300, warmupCalls: 0, roundMs: 600, rounds: 1 } : { warmupMs: 1500, warmupCalls: 5000, roundMs: 2000, rounds: 5 };
  console.log(`gRPC benchmark — ${values.quick ? 'quick smoke run' : 'full run'}: warm-up ${settings.warmupMs} ms and ≥ ${settings.warmupCalls} calls, ${settings.rounds} interleaved rounds of ${settings.roundMs} ms per point; servers on core 0, clients on core 1`);
  const pairings = new Map<string, { server: ChildProcess; client: ChildProcess }>();
  const key = (p: Pairing) => `${p.server}<-${p.client}`;
  try {
    for (const point of points) {
      if (pairings.has(key(point.pairing))) continue;
      const server = await spawn({ role: 'server', side: point.pairing.server }, 0);
      const client = await spawn({ role: 'client', side: point.pairing.client, port: server.port! }, 1);
      pairings.set(key(point.pairing), { server: server.child, client: client.child });
    }
    const run = async (point: Point, durationMs: number, minCalls = 0) => {
      const { server, client } = pairings.get(key(point.pairing))!;
      const before = await ask<{ usage: NodeJS.CpuUsage }>(server, { type: 'cpu' }, 'cpu');
      const message: ToGrpcWorker = point.mode === 'unary'
        ? { type: 'unary', concurrency: point.concurrency, durationMs, minCalls }
        : { type: 'stream', durationMs };
      const { report } = await ask<{ report: RoundReport }>(client, message, 'result');
      const after = await ask<{ usage: NodeJS.CpuUsage }>(server, { type: 'cpu' }, 'cpu');
      const serverUs = after.usage.user - before.usage.user + after.usage.system - before.usage.system;
      return { report, serverUs };
    };
    for (const point of points) await run(point, settings.warmupMs, settings.warmupCalls);
    const rounds = new Map<string, { report: RoundReport; serverUs: number }[]>(points.map((p) => [p.id, []]));
    for (let round = 0; round < settings.rounds; round++) {
      for (const point of points) rounds.get(point.id)!.push(await run(point, settings.roundMs));
    }
    const measured = new Map<string, Measured>();
    console.log(`\n${'point'.padEnd(50)} ${'calls or msgs/s'.padStart(16)} ${'client µs/item'.padStart(15)} ${'server µs/item'.padStart(15)}  errors`);
    for (const point of points) {
      const list = rounds.get(point.id)!;
      const m: Measured = {
        rate: median(list.map((r) => (r.report.count / r.report.wallMs) * 1000)),
        clientUsPerItem: median(list.map((r) => r.report.cpuUs / Math.max(1, r.report.count))),
        serverUsPerItem: median(list.map((r) => r.serverUs / Math.max(1, r.report.count))),
        count: list.reduce((a, r) => a + r.report.count, 0),
        errors: list.reduce((a, r) => a + r.report.errors, 0),
        firstError: list.find((r) => r.report.firstError)?.report.firstError,
      };
      measured.set(point.id, m);
      console.log(`${point.label.padEnd(50)} ${Math.round(m.rate).toString().padStart(16)} ${m.clientUsPerItem.toFixed(1).padStart(15)} ${m.serverUsPerItem.toFixed(1).padStart(15)}  ${m.errors}${m.firstError ? ` (${m.firstError})` : ''}`);
    }
    // A point left out by --only reads as NaN, and the ratios built on it are not printed.
    const NONE: Measured = { rate: NaN, clientUsPerItem: NaN, serverUsPerItem: NaN, count: 0, errors: 0 };
    const get = (id: string) => measured.get(id) ?? NONE;
    const ratios = [
      { name: 'server CPU per call, Trellis / grpc-js (grpc-js client)', value: get('server-trellis@32').serverUsPerItem / get('grpc-js@32').serverUsPerItem, target: '≤ 0.5', met: (v: number) => v <= 0.5 },
      { name: 'client CPU per call, Trellis / grpc-js (grpc-js server)', value: get('client-trellis@32').clientUsPerItem / get('grpc-js@32').clientUsPerItem, target: '≤ 0.5', met: (v: number) => v <= 0.5 },
      { name: 'QPS @32, Trellis ⇄ Trellis / grpc-js ⇄ grpc-js', value: get('trellis@32').rate / get('grpc-js@32').rate, target: '≥ 2', met: (v: number) => v >= 2 },
      { name: 'QPS @256, Trellis ⇄ Trellis / grpc-js ⇄ grpc-js', value: get('trellis@256').rate / get('grpc-js@256').rate, target: '≥ 2', met: (v: number) => v >= 2 },
      { name: 'server-streaming msgs/s, Trellis / grpc-js', value: get('stream-trellis').rate / get('stream-grpc-js').rate, target: '≥ 2', met: (v: number) => v >= 2 },
    ].filter((r) => !Number.isNaN(r.value)).map((r) => ({ name: r.name, value: r.value, target: r.target, met: r.met(r.value) }));
    // Context for the targets: how far any node:http2 implementation can go on this machine now (the
    // bare client echoes bytes and decodes nothing, the bare server runs no codec: true ceilings).
    const context = [
      { name: 'ceiling: bare node:http2 server / grpc-js, CPU per call', value: get('server-bare@32').serverUsPerItem / get('grpc-js@32').serverUsPerItem },
      { name: 'Trellis server on node:http2 / grpc-js, CPU per call', value: get('server-trellis-nghttp2@32').serverUsPerItem / get('grpc-js@32').serverUsPerItem },
      { name: 'ceiling: bare node:http2 client / grpc-js, CPU per call', value: get('client-bare@32').clientUsPerItem / get('grpc-js@32').clientUsPerItem },
      { name: 'ceiling: bare node:http2 / grpc-js, QPS @32', value: get('node-http2@32').rate / get('grpc-js@32').rate },
      { name: 'ceiling: bare node:http2 / grpc-js, QPS @256', value: get('node-http2@256').rate / get('grpc-js@256').rate },
      { name: 'Trellis ⇄ Trellis / bare node:http2, QPS @32', value: get('trellis@32').rate / get('node-http2@32').rate },
      { name: 'Trellis ⇄ Trellis / bare node:http2, QPS @256', value: get('trellis@256').rate / get('node-http2@256').rate },
    ].filter((r) => !Number.isNaN(r.value));
    console.log('');
    for (const r of ratios) console.log(`${r.name.padEnd(58)} ${r.value.toFixed(2).padStart(6)}   target ${r.target}: ${r.met ? 'met' : 'NOT met'}`);
    for (const r of context) console.log(`${r.name.padEnd(58)} ${r.value.toFixed(2).padStart(6)}`);
    mkdirSync(values.out!, { recursive: true });
    const file = join(values.out!, values.quick ? 'grpc-quick.json' : 'grpc.json');
    writeFileSync(file, JSON.stringify({
      date: new Date().toISOString(), node: process.version, cpus: cpus().length, quick: values.quick, settings,
      points: points.map((p) => ({ id: p.id, label: p.label, ...get(p.id) })), ratios, context,
    }, null, 2));
    console.log(`\nwrote ${file}`);
    const errors = [...measured.values()].reduce((a, m) => a + m.errors, 0);
    if (errors > 0) {
      console.error(`${errors} calls failed`);
      return 1;
    }
    return 0;
  } finally {
    for (const { server, client } of pairings.values()) {
      client.send({ type: 'exit' } satisfies ToGrpcWorker);
      server.send({ type: 'exit' } satisfies ToGrpcWorker);
    }
  }
}

main().then((code) => process.exit(code), (error: Error) => {
  console.error(`gRPC bench failed: ${error.stack ?? error.message}`);
  process.exit(1);
});
