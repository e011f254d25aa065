'use strict';
// CPU per call of each side, the "all plugins" scenario of apps/bench at 256 in flight on one
// connection, in variants that tell apart what tracing costs: the plugin with no SDK, the
// AsyncLocalStorage context manager's promise hooks alone, a traceparent's worth of extra bytes
// alone, the SDK at 1 % and at 100 % — each with this build and, with TRACING_BASELINE_DIST=<dir>,
// with another build in the same run. Not part of the tests.
//
//   pnpm --filter @trellis/bench build && pnpm exec tsc -p tsconfig.build.json
//   TRACING_BASELINE_DIST=dist-old node bench/ab.js [--rounds 5] [--round-ms 3000] [--only a,b]
//
// It drives apps/bench's own worker processes (apps/bench/dist/worker.js: the same plugins, handler,
// load loop and SDK set-up as `pnpm bench`, server pinned to core 0 and client to core 1), one pair
// per variant, all started first and warmed up, then rounds interleaved A B C … so a neighbour's load
// hits every variant alike. A variant is made with bench/ab-preload.js (see there). Medians printed.
const { fork, execFileSync } = require('node:child_process');
const { cpus } = require('node:os');
const path = require('node:path');
const { parseArgs } = require('node:util');

const WORKER = path.resolve(__dirname, '..', '..', '..', 'apps', 'bench', 'dist', 'worker.js');
const PRELOAD = path.resolve(__dirname, 'ab-preload.js');
const BASELINE = process.env.TRACING_BASELINE_DIST && path.resolve(process.env.TRACING_BASELINE_DIST);
const THIS = path.resolve(__dirname, '..', 'dist');

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    'round-ms': { type: 'string', default: '3000' },
    'warmup-ms': { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '256' },
    only: { type: 'string' },
    ref: { type: 'string', default: 'nosdk' },
  },
});
const ROUNDS = Number(values.rounds);
const ROUND_MS = Number(values['round-ms']);
const WARMUP_MS = Number(values['warmup-ms']);
const CONCURRENCY = Number(values.concurrency);

/** The traceparent header's key and value: what a traced request carries that an untraced one does not. */
const TRACEPARENT_CHARS = 'traceparent'.length + 55 - 'x-ab-pad'.length;

const VARIANTS = [
  { id: 'bare', label: 'bare kernel', plugins: false },
  { id: 'nosdk', label: 'all plugins, no SDK', plugins: true },
  { id: 'als', label: '+ ALS context manager, no SDK', plugins: true, env: { TRACING_AB_ALS: '1' } },
  { id: 'als+pad', label: '+ ALS + a traceparent-sized header', plugins: true, env: { TRACING_AB_ALS: '1', TRACING_AB_PAD: String(TRACEPARENT_CHARS) } },
  { id: 'als+pad+flush', label: '+ ALS + header, flush after the poll phase', plugins: true, env: { TRACING_AB_ALS: '1', TRACING_AB_PAD: String(TRACEPARENT_CHARS), TRACING_AB_FLUSH: 'fullread' } },
  { id: '1pct', label: 'SDK 1 %', plugins: true, sampleRatio: 0.01, build: THIS },
  { id: '1pct+flush', label: 'SDK 1 %, flush after the poll phase', plugins: true, sampleRatio: 0.01, build: THIS, env: { TRACING_AB_FLUSH: 'fullread' } },
  { id: '1pct@base', label: 'SDK 1 %, baseline build', plugins: true, sampleRatio: 0.01, build: BASELINE },
  { id: '100pct', label: 'SDK every call', plugins: true, sampleRatio: 1, build: THIS },
  { id: '100pct@base', label: 'SDK every call, baseline build', plugins: true, sampleRatio: 1, build: BASELINE },
].filter((v) => !('build' in v) || v.build !== undefined)
  .filter((v) => !values.only || values.only.split(',').includes(v.id));

const children = new Set();
process.on('exit', () => { for (const child of children) child.kill(); });

function pin(pid, core) {
  if (cpus().length < 2) return;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(core), String(pid)], { stdio: 'ignore' });
  } catch {
    // unpinned figures are still comparable within the run
  }
}

function spawn(variant, args, core) {
  const env = { ...process.env, ...(variant.env ?? {}) };
  if (variant.build) env.TRACING_AB_DIST = variant.build;
  const child = fork(WORKER, [JSON.stringify(args)], { env, execArgv: ['--require', PRELOAD], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  pin(child.pid, core);
  return new Promise((resolve, reject) => {
    child.once('message', (m) => (m.type === 'ready' ? resolve({ child, ready: m }) : reject(new Error(`${variant.id} ${args.role}: ${m.message ?? m.type}`))));
    child.once('exit', (code) => reject(new Error(`${variant.id} ${args.role} exited with ${code}`)));
  });
}

function ask(worker, message, reply) {
  return new Promise((resolve, reject) => {
    const onExit = (code) => reject(new Error(`worker exited with ${code} while asked for ${message.type}`));
    const onMessage = (m) => {
      if (m.type !== reply) return;
      worker.child.off('message', onMessage);
      worker.child.off('exit', onExit);
      resolve(m);
    };
    worker.child.on('message', onMessage);
    worker.child.once('exit', onExit);
    worker.child.send(message);
  });
}

async function round(pair, durationMs, probe) {
  if (probe) await ask(pair.server, { type: 'probe-start', probe }, 'probe-started');
  const before = (await ask(pair.server, { type: 'stats' }, 'stats')).snapshot;
  const reply = await ask(pair.client, { type: 'round', concurrency: CONCURRENCY, durationMs, probe }, 'result');
  const after = (await ask(pair.server, { type: 'stats' }, 'stats')).snapshot;
  const serverProbe = probe ? await ask(pair.server, { type: 'probe-stop' }, 'probe') : {};
  const calls = reply.result.calls;
  return {
    qps: reply.result.qps, errors: reply.result.errors,
    client: reply.result.client.cpuUs / calls,
    server: (after.cpu.user - before.cpu.user + after.cpu.system - before.cpu.system) / calls,
    sockets: probe ? { client: reply.sockets, server: serverProbe.sockets, calls } : undefined,
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  const load = () => require('node:os').loadavg()[0].toFixed(1);
  console.log(`tracing A/B: ${VARIANTS.length} variants, ${CONCURRENCY} in flight, 1 connection, ${ROUNDS} × ${ROUND_MS} ms rounds interleaved; ` +
    `node ${process.version}; load average ${load()}${BASELINE ? `; baseline build ${BASELINE}` : ''}`);
  const pairs = [];
  for (const variant of VARIANTS) {
    const base = { kind: 'trellis', plugins: variant.plugins, sampleRatio: variant.sampleRatio };
    const server = await spawn(variant, { role: 'server', ...base }, 0);
    const client = await spawn(variant, { role: 'client', ...base, port: server.ready.port, connections: 1 }, 1);
    const { mismatch } = await ask(client, { type: 'check' }, 'checked');
    if (mismatch) throw new Error(`${variant.id}: echo mismatch: ${mismatch}`);
    pairs.push({ variant, server, client, rounds: [] });
  }
  for (const pair of pairs) await round(pair, WARMUP_MS);
  for (let r = 0; r < ROUNDS; r++) {
    for (const pair of pairs) pair.rounds.push(await round(pair, ROUND_MS));
  }
  // One diagnostic round each with the socket probe (never timed: the probe wraps every socket call).
  for (const pair of pairs) pair.probe = (await round(pair, Math.min(ROUND_MS, 1500), 'sockets')).sockets;
  const bare = pairs.find((p) => p.variant.id === 'bare');
  const bareQps = bare ? median(bare.rounds.map((r) => r.qps)) : NaN;
  console.log(`\nvariant                                     QPS   / bare   CPU µs/call client   server   both   calls/read c/s   calls/write c/s  errors`);
  for (const pair of pairs) {
    const qps = median(pair.rounds.map((r) => r.qps));
    const c = median(pair.rounds.map((r) => r.client));
    const s = median(pair.rounds.map((r) => r.server));
    const both = median(pair.rounds.map((r) => r.client + r.server));
    const errors = pair.rounds.reduce((n, r) => n + r.errors, 0);
    const p = pair.probe;
    const ref = pairs.find((q) => q.variant.id === values.ref);
    const delta = (side) => (ref ? median(pair.rounds.map((r, i) => side(r) - side(ref.rounds[i]))) : NaN);
    pair.delta = {
      client: delta((r) => r.client), server: delta((r) => r.server),
      qps: ref ? median(pair.rounds.map((r, i) => r.qps / ref.rounds[i].qps)) : NaN,
    };
    const perRead = p ? `${(p.calls / p.client.reads).toFixed(0)} / ${(p.calls / p.server.reads).toFixed(0)}` : '';
    const perWrite = p ? `${(p.calls / p.client.writes).toFixed(0)} / ${(p.calls / p.server.writes).toFixed(0)}` : '';
    console.log(`${`${pair.variant.id} (${pair.variant.label})`.padEnd(40)} ${qps.toFixed(0).padStart(6)} ${(qps / bareQps).toFixed(2).padStart(7)} ` +
      `${c.toFixed(2).padStart(18)} ${s.toFixed(2).padStart(8)} ${both.toFixed(2).padStart(6)} ${perRead.padStart(16)} ${perWrite.padStart(17)} ${String(errors).padStart(7)}`);
  }
  console.log(`\nmedians over rounds of (variant − ${values.ref} in the same round): CPU µs/call client / server, and QPS ÷ ${values.ref}'s:`);
  for (const pair of pairs) {
    console.log(`  ${pair.variant.id.padEnd(16)} ${pair.delta.client.toFixed(2).padStart(7)} / ${pair.delta.server.toFixed(2).padStart(7)}   ${pair.delta.qps.toFixed(2)}`);
  }
  console.log(`\nper round, client + server µs/call: ${pairs.map((p) => `${p.variant.id} [${p.rounds.map((r) => `${r.client.toFixed(1)}+${r.server.toFixed(1)}`).join(', ')}]`).join('; ')}`);
  console.log(`load average at the end ${load()}`);
  for (const pair of pairs) {
    pair.client.child.send({ type: 'exit' });
    pair.server.child.send({ type: 'exit' });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
