/**
 * `pnpm bench:stream` (issue #18): streams on the native transport, measured twice — through the
 * kernel's stream API (an RpcServer async-generator handler, an RpcClient stream loop: what an
 * application gets) and at the transport SPI level (TcpClientTransport.openStream /
 * TcpServerTransport.listen's StreamHandler) — with protobufjs encode per message on the sender and
 * decode per message on the receiver.
 *
 *   1. One server stream of the echo message, messages/s: Trellis (kernel API, and SPI) vs
 *      @grpc/grpc-js server streaming vs a raw socket pushing length-prefixed protobufjs frames (writer
 *      honouring write() backpressure, reader decoding every message). Rounds interleave the sides,
 *      each against its own server process; ratios are of medians within this run.
 *   2. Bidirectional ping-pong on one stream, p50 round trip, vs a unary call p50 on the same connection.
 *   3. Heap per idle open stream over 10,000 streams, client and server side (after a GC).
 *
 *   node --expose-gc apps/bench/dist/stream/main.js [--quick] [--seconds N] [--out DIR] [--sides kernel,raw] [--cpu-prof DIR] [--baseline-codec DIR]
 *
 * `--baseline-codec DIR` adds a `kernel-baseline` side: the kernel API with another build of
 * @trellis/codec-protobuf (its `dist`, e.g. the commit before a codec change, copied into
 * packages/codec-protobuf/.ab/dist so its imports resolve) — a before/after A/B of a codec change in
 * one run, CPU per message per side included.
 *
 * CPU time per message on each side (process.cpuUsage over the timed part, user + system, ÷ messages
 * counted) is printed and kept beside the rates: it moves far less than messages/s when the machine
 * is shared. `--cpu-prof DIR` runs the server processes under `node --cpu-prof` (start the client
 * with `node --cpu-prof` yourself); `--sides` measures only some sides (no ratios, no files written).
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { RpcClient, TcpClientTransport, type Endpoint } from '@trellis/core';
import { median, percentile } from '@trellis/core/toolkit';
import { forkReady } from '@trellis/testkit';
import { connect as connectGrpc } from '../grpc/sides.js';
import { esc, svgDocument } from '../svg.js';
import { baselineLoader, echoType, frameReader, kernelStreamService } from './wire.js';

type Side = 'kernel' | 'kernel-baseline' | 'kernel-encode' | 'trellis' | 'grpc-js' | 'raw';

const { values: args } = parseArgs({ options: { quick: { type: 'boolean' }, seconds: { type: 'string' }, out: { type: 'string' }, sides: { type: 'string' }, 'cpu-prof': { type: 'string' }, 'baseline-codec': { type: 'string' } } });
// The baseline side exists only with --baseline-codec (servers inherit the choice through the environment).
if (args['baseline-codec'] !== undefined) process.env.TRELLIS_BASELINE_CODEC = resolve(args['baseline-codec']);
const baseline = baselineLoader();
const SIDES: readonly Side[] = baseline === undefined ? ['kernel', 'kernel-encode', 'trellis', 'grpc-js', 'raw'] : ['kernel', 'kernel-baseline', 'kernel-encode', 'trellis', 'grpc-js', 'raw'];
const quick = args.quick === true;
const seconds = Number(args.seconds ?? (quick ? 1 : 3));
const rounds = quick ? 1 : 3;
const only = args.sides === undefined ? undefined : new Set(args.sides.split(','));
const cpuProfDir = args['cpu-prof'] === undefined ? undefined : resolve(args['cpu-prof']);
const outDir = resolve(args.out ?? join(__dirname, '..', '..', '..', '..', 'bench-results'));

interface Server { readonly child: ChildProcess; readonly port: number }

/** Pins a process (every thread, GC helpers included) to one core, as the other benches do; false without taskset. */
function pin(pid: number, core: number): boolean {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(core), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false; // no taskset: unpinned ratios are still comparable within the run
  }
}

let pinned = pin(process.pid, 1);

async function startServer(side: Side): Promise<Server> {
  const execArgv = ['--expose-gc', ...(cpuProfDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', cpuProfDir, '--cpu-prof-name', `server-${side}.cpuprofile`])];
  const { child, ready } = forkReady<{ type: 'ready'; port: number }>(join(__dirname, 'server.js'), [side], { label: `${side} server`, execArgv });
  pinned = pin(child.pid!, 0) && pinned;
  return { child, port: (await ready).port };
}

async function stopServer(server: Server): Promise<void> {
  const exited = new Promise((r) => server.child.once('exit', r));
  server.child.send('close');
  await exited;
}

function ask<T>(server: Server, what: string, key: string): Promise<T> {
  return new Promise((ok) => {
    const on = (m: Record<string, unknown>) => {
      if (m[key] === undefined) return;
      server.child.off('message', on);
      ok(m as T);
    };
    server.child.on('message', on);
    server.child.send(what);
  });
}

const endpointOf = (port: number): Endpoint => ({ id: `127.0.0.1:${port}`, host: '127.0.0.1', port, weight: 100, version: '1.0.0', tags: {} });
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const streamOf = (method: string, kind: 'server-streaming' | 'bidi-streaming') => ({
  group: 'default', service: 'bench.BenchService', version: '', method, kind, metadata: new Map<string, string>(), timeoutMs: 600_000, attempt: 1, signal: undefined,
});

const Echo = echoType();

interface Sample { rate: number; clientCpuUs: number; serverCpuUs: number }

/** The server process's CPU time so far (process.cpuUsage, user + system), µs. */
async function serverCpu(server: Server): Promise<number> {
  return (await ask<{ cpu: number }>(server, 'cpu', 'cpu')).cpu;
}

const ownCpu = (): number => { const u = process.cpuUsage(); return u.user + u.system; };

/**
 * Messages decoded in `seconds` on one stream of the side (after a short warm-up), and the CPU each
 * side spent per message over the same time.
 */
async function streamRate(side: Side, server: Server, client: TcpClientTransport): Promise<Sample> {
  const port = server.port;
  let counted = 0;
  let counting = false;
  let stopNow: () => void = () => {};
  const stop = new Promise<void>((r) => (stopNow = r));
  let done: Promise<unknown>;
  if (side === 'kernel' || side === 'kernel-encode' || side === 'kernel-baseline') {
    // An application's loop: the kernel decodes each message with the method's codec.
    const rpc = new RpcClient({ service: kernelStreamService(side !== 'kernel-encode', side === 'kernel-baseline' ? baseline : undefined), addresses: [`127.0.0.1:${port}`], timeoutMs: 600_000 });
    let stopped = false;
    void stop.then(() => (stopped = true));
    done = (async () => {
      try {
        for await (const m of rpc.stream('Stream', {})) {
          if (stopped) break;
          if (counting && m !== undefined) counted++;
        }
      } catch { /* cancelled: the round is over */ }
      await rpc.close();
    })();
  } else if (side === 'trellis') {
    const stream = client.openStream(endpointOf(port), streamOf('Stream', 'server-streaming'));
    stream.end();
    void stop.then(() => stream.cancel('round over'));
    done = (async () => {
      try {
        for await (const m of stream.responses) {
          Echo.decode(m);
          if (counting) counted++;
        }
      } catch { /* cancelled: the round is over */ }
    })();
  } else if (side === 'grpc-js') {
    // grpc-js decodes every message itself (its proto-loader deserializer). Its caller reports the
    // total at the end, so its warm-up counts too: the rate is over warm-up plus the timed part.
    const caller = connectGrpc('grpc-js', port);
    const started = performance.now();
    const cpu0 = ownCpu();
    const server0 = await serverCpu(server);
    const total = await Promise.all([caller.stream(stop), sleep(300 + seconds * 1000).then(stopNow)]);
    const clientCpu = ownCpu() - cpu0;
    const serverCpuUs = await serverCpu(server) - server0;
    caller.close();
    return { rate: total[0] / ((performance.now() - started) / 1000), clientCpuUs: clientCpu / total[0], serverCpuUs: serverCpuUs / total[0] };
  } else {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => {});
    socket.on('data', frameReader((body) => {
      Echo.decode(body);
      if (counting) counted++;
    }));
    void stop.then(() => socket.destroy());
    done = new Promise((r) => socket.once('close', r));
  }
  await sleep(300);
  const server0 = await serverCpu(server);
  counting = true;
  const cpu0 = ownCpu();
  const started = performance.now();
  await sleep(seconds * 1000);
  const n = counted;
  const elapsed = (performance.now() - started) / 1000;
  const clientCpu = ownCpu() - cpu0;
  const serverCpuUs = await serverCpu(server) - server0;
  stopNow();
  await done;
  return { rate: n / elapsed, clientCpuUs: clientCpu / n, serverCpuUs: serverCpuUs / n };
}

/** p50 of bidi ping-pong round trips on one stream and of unary calls on the same connection, µs. */
async function pingPong(port: number, client: TcpClientTransport, n: number): Promise<{ streamP50Us: number; unaryP50Us: number }> {
  const endpoint = endpointOf(port);
  const message = Echo.fromObject({ message: 'x'.repeat(100), id: 1, values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] });
  const stream = client.openStream(endpoint, streamOf('PingPong', 'bidi-streaming'));
  const responses = stream.responses[Symbol.asyncIterator]();
  const streamRtts: number[] = [];
  const unaryRtts: number[] = [];
  const unary = { group: 'default', service: 'bench.BenchService', version: '', method: 'Echo', metadata: new Map<string, string>(), timeoutMs: 10_000, attempt: 1, signal: undefined };
  // Interleaved, so load swings hit both alike; the first 10 % of each are warm-up.
  for (let i = 0; i < n; i++) {
    let t = process.hrtime.bigint();
    const wait = stream.send(Echo.encode(message).finish());
    if (wait) await wait;
    Echo.decode((await responses.next()).value as Uint8Array);
    if (i >= n / 10) streamRtts.push(Number(process.hrtime.bigint() - t) / 1000);
    t = process.hrtime.bigint();
    const answer = await client.call(endpoint, { ...unary, body: Echo.encode(message).finish() });
    Echo.decode(answer.body);
    if (i >= n / 10) unaryRtts.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  stream.end();
  await responses.next();
  return { streamP50Us: percentile(streamRtts, 50), unaryP50Us: percentile(unaryRtts, 50) };
}

/** Heap per idle open stream, each side, over `count` streams on one connection. */
async function idleMemory(server: Server, count: number): Promise<{ clientBytes: number; serverBytes: number }> {
  const client = new TcpClientTransport();
  const endpoint = endpointOf(server.port);
  const warm = client.openStream(endpoint, streamOf('Idle', 'server-streaming'));
  await warm.headers;
  global.gc?.();
  const clientBefore = process.memoryUsage().heapUsed;
  const serverBefore = (await ask<{ heap: number }>(server, 'memory', 'heap')).heap;
  const streams = Array.from({ length: count }, () => client.openStream(endpoint, streamOf('Idle', 'server-streaming')));
  await Promise.all(streams.map((s) => s.headers));
  global.gc?.();
  const clientAfter = process.memoryUsage().heapUsed;
  const serverAfter = await ask<{ heap: number; idle: number }>(server, 'memory', 'heap');
  if (serverAfter.idle !== count + 1) throw new Error(`the server holds ${serverAfter.idle} idle streams, expected ${count + 1}`);
  for (const s of streams) s.cancel();
  warm.cancel();
  await client.close();
  return { clientBytes: (clientAfter - clientBefore) / count, serverBytes: (serverAfter.heap - serverBefore) / count };
}

function chart(rates: Record<Side, number>, lines: string[]): string {
  const width = 640;
  const barH = 28;
  const top = 40;
  const max = Math.max(...SIDES.map((side) => rates[side]));
  const labels: Record<Side, string> = { kernel: 'Trellis stream (kernel API)', 'kernel-baseline': 'same, the baseline codec build', 'kernel-encode': 'same, codec encode() per message', trellis: 'Trellis stream (transport SPI)', 'grpc-js': '@grpc/grpc-js server stream', raw: 'raw socket, length-prefixed' };
  const colors: Record<Side, string> = { kernel: '#1d4fa8', 'kernel-baseline': '#8a8a8a', 'kernel-encode': '#7f9fd6', trellis: '#2f6fdf', 'grpc-js': '#e0812f', raw: '#3a9d5d' };
  const height = top + SIDES.length * (barH + 10) + 20 + lines.length * 18;
  const parts = [`<text x="10" y="20" font-size="14" font-weight="bold">${esc('One server stream of the echo message, messages/s')}</text>`];
  SIDES.forEach((side, i) => {
    const y = top + i * (barH + 10);
    const w = Math.max(2, ((width - 260) * rates[side]) / max);
    parts.push(`<text x="10" y="${y + 18}">${esc(labels[side])}</text>`,
      `<rect x="190" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${colors[side]}"/>`,
      `<text x="${(195 + w).toFixed(1)}" y="${y + 18}">${esc(`${Math.round(rates[side]).toLocaleString('en-US')}/s`)}</text>`);
  });
  lines.forEach((line, i) => parts.push(`<text x="10" y="${top + SIDES.length * (barH + 10) + 16 + i * 18}">${esc(line)}</text>`));
  return svgDocument(width, height, parts);
}

const cpuLine = (cpu: { client: number; server: number }): string => `${cpu.client.toFixed(2)} + ${cpu.server.toFixed(2)}`;

async function main(): Promise<void> {
  console.log(`bench:stream — the native transport's streams, through the kernel's stream API and at the transport SPI level`);
  console.log(`${rounds} round(s) × ${seconds} s per side; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} (a shared machine: ratios within this run)`);
  const sides = SIDES.filter((side) => only === undefined || only.has(side));
  const servers = {} as Record<Side, Server>;
  for (const side of sides) servers[side] = await startServer(side);
  // The default stream window (64 KiB): larger windows measured slower here (bigger bursts, more buffering).
  const client = new TcpClientTransport();
  const samples = Object.fromEntries(SIDES.map((side) => [side, []])) as unknown as Record<Side, number[]>;
  const cpuSamples = Object.fromEntries(SIDES.map((side) => [side, { client: [], server: [] }])) as unknown as Record<Side, { client: number[]; server: number[] }>;
  try {
    for (let round = 0; round < rounds; round++) {
      for (const side of sides) {
        const sample = await streamRate(side, servers[side], client);
        samples[side].push(sample.rate);
        cpuSamples[side].client.push(sample.clientCpuUs);
        cpuSamples[side].server.push(sample.serverCpuUs);
        console.log(`  round ${round + 1} ${side.padEnd(13)} ${Math.round(sample.rate).toLocaleString('en-US').padStart(9)} messages/s   CPU per message: client ${sample.clientCpuUs.toFixed(2)} µs, server ${sample.serverCpuUs.toFixed(2)} µs`);
      }
    }
    if (only !== undefined) return;
    const rates = Object.fromEntries(SIDES.map((side) => [side, median(samples[side])])) as Record<Side, number>;
    const cpuPerMessageUs = Object.fromEntries(SIDES.map((side) => [side, { client: median(cpuSamples[side].client), server: median(cpuSamples[side].server) }])) as Record<Side, { client: number; server: number }>;
    const pp = await pingPong(servers.trellis.port, client, quick ? 1000 : 5000);
    const memory = await idleMemory(servers.trellis, quick ? 2000 : 10_000);
    const result = {
      date: new Date().toISOString(),
      machine: `${loadavg()[0]!.toFixed(2)} load average at the end; server and client one process each, ${pinned ? 'pinned to cores 0 and 1' : 'unpinned'}`,
      level: 'kernel API (RpcServer async generator yielding plain objects, RpcClient stream loop; @trellis/codec-protobuf codec: fromObject + encode, decode + toObject, with its in-place encoder and, as kernel-encode, without) and transport SPI (TcpClientTransport.openStream / StreamHandler; protobufjs encode and decode per message)',
      messagesPerSecond: rates,
      samples,
      cpuPerMessageUs,
      cpuSamples,
      ratios: {
        kernelVsGrpcJs: rates.kernel / rates['grpc-js'],
        kernelVsRaw: rates.kernel / rates.raw,
        kernelInPlaceVsEncode: rates.kernel / rates['kernel-encode'],
        serverCpuInPlaceVsEncode: cpuPerMessageUs.kernel.server / cpuPerMessageUs['kernel-encode'].server,
        trellisVsGrpcJs: rates.trellis / rates['grpc-js'],
        trellisVsRaw: rates.trellis / rates.raw,
        pingPongVsUnaryP50: pp.streamP50Us / pp.unaryP50Us,
        ...(baseline === undefined ? {} : {
          kernelVsBaseline: rates.kernel / rates['kernel-baseline'],
          clientCpuVsBaseline: cpuPerMessageUs.kernel.client / cpuPerMessageUs['kernel-baseline'].client,
          serverCpuVsBaseline: cpuPerMessageUs.kernel.server / cpuPerMessageUs['kernel-baseline'].server,
        }),
      },
      pingPong: pp,
      idleStreamBytes: memory,
      targets: { kernelVsGrpcJs: '≥ 10', kernelVsRaw: '≥ 0.5', trellisVsGrpcJs: '≥ 10', trellisVsRaw: '≥ 0.5', pingPongVsUnaryP50: '≤ 1.2', idleStreamBytes: '≤ 2048 per stream' },
    };
    const lines = [
      `kernel API: ÷ grpc-js ${result.ratios.kernelVsGrpcJs.toFixed(1)}× (target ≥ 10×), ÷ raw ${result.ratios.kernelVsRaw.toFixed(2)} (target ≥ 0.5)`,
      `codec in place vs encode(): ${result.ratios.kernelInPlaceVsEncode.toFixed(2)}× messages/s, server CPU per message ${result.ratios.serverCpuInPlaceVsEncode.toFixed(2)}×`,
      `transport SPI: ÷ grpc-js ${result.ratios.trellisVsGrpcJs.toFixed(1)}×, ÷ raw ${result.ratios.trellisVsRaw.toFixed(2)}`,
      ...(baseline === undefined ? [] : [`kernel vs the baseline codec build: ${(rates.kernel / rates['kernel-baseline']).toFixed(2)}× messages/s; CPU per message client ${cpuLine(cpuPerMessageUs.kernel)} vs ${cpuLine(cpuPerMessageUs['kernel-baseline'])} (client + server)`]),
      `CPU µs/message client + server: kernel ${cpuLine(cpuPerMessageUs.kernel)}, encode() ${cpuLine(cpuPerMessageUs['kernel-encode'])}, SPI ${cpuLine(cpuPerMessageUs.trellis)}, grpc-js ${cpuLine(cpuPerMessageUs['grpc-js'])}, raw ${cpuLine(cpuPerMessageUs.raw)}`,
      `bidi ping-pong p50 ${pp.streamP50Us.toFixed(0)} µs vs unary p50 ${pp.unaryP50Us.toFixed(0)} µs on one connection: ${result.ratios.pingPongVsUnaryP50.toFixed(2)}× (target ≤ 1.2×)`,
      `idle open stream: ${Math.round(memory.clientBytes)} B client + ${Math.round(memory.serverBytes)} B server heap (target ≤ 2 KB)`,
      `ping-pong and memory at the transport SPI level; load average ${loadavg()[0]!.toFixed(2)} at the end`,
    ];
    for (const line of lines) console.log(line);
    if (!quick || args.out !== undefined) {
      mkdirSync(outDir, { recursive: true });
      writeFileSync(join(outDir, 'stream.json'), `${JSON.stringify(result, null, 2)}\n`);
      writeFileSync(join(outDir, 'stream.svg'), chart(rates, lines));
      console.log(`wrote ${join(outDir, 'stream.json')} and stream.svg`);
    }
  } finally {
    await client.close();
    for (const side of sides) await stopServer(servers[side]);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
