/**
 * The Trellis demo: four provider processes (three v1, one v2 for a gray release, one v1 slower than
 * the others) and one consumer with every governance plugin on. Steady traffic; on a timeline:
 * a provider frozen (health), a provider refusing work (breaker opens, then closes), a provider killed
 * (retries absorb it), a provider stopped gracefully (GOAWAY, drain). Every provider also serves
 * standard gRPC on a second port, and near the end a client outside Trellis (Python's grpcio) calls
 * one of them over gRPC. Ends with a summary.
 *
 *   npm start                         embedded default: a static address list
 *   npm start -- --registry etcd      a real etcd (started locally unless --etcd URL is given)
 *   npm start -- --duration 30 --rate 2000
 *   npm start -- --slow-ms 30         how much slower p3 answers (default 4 ms)
 */
import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { RpcClient, type Registry } from '@trellis/core';
import { formatTraceTree } from '@trellis/tracing';
import { startProvider, type ProviderHandle } from './cluster.js';
import { describeForeignCall, foreignCaller, type ForeignCall } from './foreign-caller.js';
import { consumerGovernance } from './governance.js';
import { loadGreeter, type GreeterClient } from './greeter.js';
import { createRegistry, type RegistryChoice } from './registry-choice.js';
import { TrafficStats } from './stats.js';
import { describeFeed, followVisitors } from './visitor-feed.js';

const started = performance.now();
const at = () => (performance.now() - started) / 1000;
const log = (message: string): void => console.log(`[${at().toFixed(1).padStart(5)} s] ${message}`);

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      registry: { type: 'string', default: 'static' },
      etcd: { type: 'string' },
      duration: { type: 'string', default: '20' },
      rate: { type: 'string', default: '1000' },
      'slow-ms': { type: 'string', default: '4' },
    },
  });
  const durationMs = Number(values.duration) * 1000;
  const rate = Number(values.rate);
  const slowMs = Number(values['slow-ms']);
  if (!(Number.isInteger(slowMs) && slowMs > 0)) throw new Error(`--slow-ms must be a positive whole number of milliseconds, not ${values['slow-ms']}`);
  if (!(durationMs >= 8000) || !(rate > 0)) throw new Error('--duration must be at least 8 (seconds) and --rate a positive number');
  if (values.registry !== 'static' && values.registry !== 'etcd') throw new Error(`--registry must be "static" or "etcd", not "${values.registry}"`);

  // Torn down in this order: consumer, registry client, providers (they deregister), etcd last.
  const cleanups: (() => Promise<unknown>)[] = [];
  const last: (() => Promise<unknown>)[] = [];
  let choice: RegistryChoice = { kind: 'static' };
  if (values.registry === 'etcd') {
    let endpoints = values.etcd;
    if (!endpoints) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { startEtcd } = require('@trellis/testkit') as typeof import('@trellis/testkit');
      const etcd = await startEtcd();
      last.push(() => etcd.stop());
      endpoints = etcd.endpoints;
      log(`started a local etcd at ${endpoints}`);
    }
    choice = { kind: 'etcd', endpoints };
  }

  log(`starting 4 Greeter providers (registry: ${choice.kind}); p3 is ${slowMs} ms slower, p4 is the v2 gray release, served by 2 worker processes`);
  const specs = [
    { name: 'p1', delayMs: 0, tags: { version: 'v1' } },
    { name: 'p2', delayMs: 0, tags: { version: 'v1' } },
    { name: 'p3', delayMs: slowMs, tags: { version: 'v1' } },
    { name: 'p4', delayMs: 0, tags: { version: 'v2' }, workers: 2 },
  ];
  const providers = await Promise.all(specs.map((spec) => startProvider({ ...spec, registry: choice })));
  last.unshift(() => Promise.all(providers.map((p) => (p.child.exitCode === null && p.child.signalCode === null ? p.stop() : undefined))));
  const [p1, p2, p3, p4] = providers as [ProviderHandle, ProviderHandle, ProviderHandle, ProviderHandle];
  const byAddress = new Map(providers.map((p) => [p.address, p.name]));
  const nameOf = (id: string) => byAddress.get(id) ?? id;
  for (const p of providers) log(`  ${p.name} listening on ${p.address} (Trellis) and 127.0.0.1:${p.grpcPort} (gRPC)`);
  // Set up before the traffic (protoc runs here), so the call itself is all that happens mid-run.
  const outsider = foreignCaller();
  last.push(async () => outsider.close());

  let registry: Registry | undefined;
  if (choice.kind !== 'static') {
    registry = createRegistry(choice);
    cleanups.push(() => registry!.close());
  }
  const breakerEvents: string[] = [];
  const governance = consumerGovernance((event) => {
    if (event.kind !== 'endpoint') return;
    const line = `breaker for ${nameOf(event.key)}: ${event.from} → ${event.to}${event.reason ? ` — ${event.reason}` : ''}`;
    breakerEvents.push(`${at().toFixed(1)} s ${line}`);
    log(`  ${line}`);
  });
  const client = new RpcClient({
    service: loadGreeter(),
    ...(registry ? { registry } : { addresses: providers.map((p) => ({ host: '127.0.0.1', port: p.port, tags: p.tags })) }),
    timeoutMs: 2000,
    caller: 'demo-consumer',
    loadBalancer: 'lalb',
    plugins: governance.plugins,
  });
  cleanups.unshift(() => governance.close());
  cleanups.unshift(() => client.close());
  const greeter = client.stub<GreeterClient>();
  await client.waitForReady({ timeoutMs: 10_000, minEndpoints: providers.length });
  client.healthView.onChange((change) => {
    log(`  health of ${nameOf(change.endpoint.id)}: ${change.from} → ${change.to} — ${change.reason}`);
  });
  log(`metrics for Prometheus at ${governance.metrics.url}`);
  log(`web console of this consumer (open it while the demo runs): ${governance.consoleUrl()}`);

  const stats = new TrafficStats();
  const notes = new Map<string, string>();
  const schedule = (fraction: number, action: () => void) => setTimeout(action, durationMs * fraction).unref();
  // The first 30 % is fault-free: LALB learns that p3 is slower and shifts traffic off it.
  let lalbShare = '';
  let lalbWeights: ReturnType<typeof snapshotWeights> = [];
  const snapshotWeights = () => governance.lalb.balancers()[0]?.snapshot() ?? [];
  schedule(0.29, () => {
    lalbShare = stats.shareBetween('p3', at() - 0.15 * durationMs / 1000, at());
    lalbWeights = snapshotWeights();
  });
  schedule(0.3, () => {
    // Phases scale with the duration so they never overlap (p1 must be back before p2 and p3 go).
    const frozenMs = Math.round(0.15 * durationMs);
    log(`freezing p1 (SIGSTOP) for ${frozenMs / 1000} s: heartbeats stop, health takes it out of rotation`);
    p1.kill('SIGSTOP');
    setTimeout(() => { log('resuming p1 (SIGCONT)'); p1.kill('SIGCONT'); }, frozenMs).unref();
    notes.set('p1', `frozen ${frozenMs / 1000} s at ${at().toFixed(1)} s`);
  });
  schedule(0.5, () => {
    log('p2 starts refusing 70 % of its calls (a dependency is down): retries send them elsewhere; LALB\'s error penalty and the breaker take traffic off it');
    p2.setBehaviour({ refuseRate: 0.7 });
    notes.set('p2', 'refused 70 % for a while');
  });
  schedule(0.62, () => {
    log('p2 recovers: it answers every call again (an open breaker closes after its half-open probes succeed)');
    p2.setBehaviour({ refuseRate: 0 });
  });
  schedule(0.7, () => {
    log('killing p3 (SIGKILL): calls caught in flight are retried on the others');
    p3.kill('SIGKILL');
    notes.set('p3', `${notes.get('p3') ?? ''}killed at ${at().toFixed(1)} s`);
  });
  // After LALB's snapshot (forking two workers costs CPU that would blur the latencies it learns),
  // early enough that the reload (seconds on a loaded machine) ends well inside the run.
  schedule(0.4, () => {
    log('reloading p4 (SIGHUP): its 2 workers are replaced one at a time, each new one ready before an old one hands its connections over');
    p4.child.on('message', (m: { type: string; ms?: number; message?: string }) => {
      if (m.type === 'reloaded') log(`  p4 reloaded in ${m.ms} ms: every worker replaced`);
      if (m.type === 'reload-failed') log(`  p4 reload failed: ${m.message}`);
    });
    p4.kill('SIGHUP');
    notes.set('p4', `${notes.get('p4')}; workers reloaded at ${at().toFixed(1)} s`);
  });
  // A client no one here wrote calls p1's gRPC port while the consumer's traffic runs (after the
  // faults it should not blur: LALB's snapshot, p1's freeze).
  let foreignCall: Promise<ForeignCall> | undefined;
  schedule(0.9, () => {
    log(`a client outside Trellis calls p1 over gRPC at 127.0.0.1:${p1.grpcPort}`);
    foreignCall = outsider.call(`127.0.0.1:${p1.grpcPort}`, 'outsider');
    void foreignCall.then((call) => log(`  ${call.client}: ${call.answer}`));
  });
  schedule(0.85, () => {
    log('stopping p2 gracefully (SIGTERM): deregister, GOAWAY, finish in-flight calls');
    void p2.stop().then((drainedMs) => {
      log(drainedMs < 0 ? '  p2 exited without reporting a graceful close' : `  p2 exited after draining for ${drainedMs} ms`);
      notes.set('p2', `${notes.get('p2')}; stopped gracefully at ${at().toFixed(1)} s`);
    });
  });
  notes.set('p3', `${slowMs} ms slower; `);
  notes.set('p4', 'v2 (gray release)');

  // The visitor feed (a server stream) runs beside the calls for the whole run, across every fault:
  // when its provider goes, it subscribes again elsewhere and counts the ticks it missed. One
  // deadline covers a whole stream, so it gets the run's length, not the calls' 2 s.
  const feedStop = new AbortController();
  const feed = followVisitors({
    subscribe: (request, signal) => greeter.visitors(request, { signal, timeoutMs: durationMs + 60_000 }),
    signal: feedStop.signal,
    log,
  });
  log(`sending ~${rate} calls/s for ${durationMs / 1000} s (SayHello, Count, Remember) with LALB, health, gray routing, retry, breaker, tracing, metrics; following the Visitors stream`);
  await drive(greeter, stats, rate, durationMs);
  feedStop.abort();
  const feedReport = await feed;
  log('traffic done');

  console.log(`\nSummary — 4 providers, 1 consumer, ${choice.kind} registry, ${durationMs / 1000} s\n`);
  console.log(stats.table(notes));
  console.log(`\n${stats.grayReport()}`);
  console.log(`\n${describeFeed(feedReport)}`);
  const outside = await foreignCall;
  console.log(`\n${outside ? describeForeignCall(outside, 'p1') : 'a call from outside Trellis: not made (the run ended before its turn)'}`);
  if (lalbWeights.length) {
    console.log('\nLALB before the faults (weight ∝ QPS / latency, v1 providers):');
    // snapshot() covers every routed list; p4 (v2) is alone in its own, so it is left out here.
    for (const w of lalbWeights.filter((row) => nameOf(row.id) !== 'p4')) {
      console.log(`  ${nameOf(w.id).padEnd(4)} weight ${String(Math.round(w.weight)).padStart(11)}  expected share ${(w.share * 100).toFixed(1).padStart(5)} %  avg latency ${w.avgLatencyMs.toFixed(2)} ms`);
    }
    console.log(`  p3, ${slowMs} ms slower, served ${lalbShare} of the v1 calls in the seconds before the first fault; round robin would give it 33 %.`);
    console.log('  (p1 and p2 answer about equally fast, so LALB splits their calls about evenly: its rate term is compressed');
    console.log('   (rateExponent 0.8), so equal providers do not drift to one of them; see plugins/lb-lalb README, "Equal latencies".)');
  }
  console.log(`\nbreaker transitions:\n${breakerEvents.map((e) => `  ${e}`).join('\n') || '  none'}`);
  const spans = governance.spans();
  // Show the sampled trace with the most spans: a call that needed more than one attempt, if any.
  const perTrace = new Map<string, number>();
  for (const span of spans) perTrace.set(span.spanContext().traceId, (perTrace.get(span.spanContext().traceId) ?? 0) + 1);
  const [traceId, spanCount] = [...perTrace].sort((a, b) => b[1] - a[1])[0] ?? [];
  if (traceId) {
    console.log(`\none of ${perTrace.size} sampled traces${(spanCount ?? 0) > 2 ? ' (a call with more than one attempt)' : ''}, from the consumer's in-memory exporter:`);
    console.log(formatTraceTree(spans.filter((s) => s.spanContext().traceId === traceId)));
  }
  const scraped = (await governance.metrics.text()).split('\n').filter((l) => l.startsWith('trellis_client_requests_total')).slice(0, 4);
  console.log(`\nmetrics (${governance.metrics.url}), a few lines:\n${scraped.map((l) => `  ${l}`).join('\n')}`);
  const verdict = stats.verdict();
  console.log(`\n${verdict.text}`);
  const code = verdict.ok && outside?.ok ? 0 : 1;
  // Set before the teardown: should a step of it leave nothing holding the event loop, node ends the
  // process with this code instead of a silent 0.
  process.exitCode = code;
  for (const cleanup of [...cleanups, ...last]) await cleanup();
  return code;
}

/** Paced open-loop traffic: `rate` calls per second, mixing the three methods over 100 users. */
async function drive(greeter: GreeterClient, stats: TrafficStats, rate: number, durationMs: number): Promise<void> {
  const inflight = new Set<Promise<void>>();
  let n = 0;
  const begin = performance.now();
  const end = begin + durationMs;
  while (performance.now() < end) {
    // Owed calls follow the clock, not the number of slices: timers run late, the rate must not.
    const owed = Math.floor(((performance.now() - begin) / 1000) * rate);
    while (n < owed) {
      const i = n++;
      const user = `user${(i * 7919) % 100}`;
      const method = i % 50 === 0 ? 'Remember' : i % 3 === 0 ? 'Count' : 'SayHello';
      const t0 = performance.now();
      const call = method === 'Remember' ? greeter.remember({ name: user })
        : method === 'Count' ? greeter.count({ text: 'the quick brown fox' })
        : greeter.sayHello({ name: user });
      const p: Promise<void> = call.then(
        (reply) => stats.record(performance.now() - t0, reply.servedBy, method === 'Count' ? undefined : user, (t0 - started) / 1000),
        (error: Error & { mayHaveRun?: boolean }) => stats.fail(method, error.message, error.mayHaveRun !== false),
      ).finally(() => inflight.delete(p));
      inflight.add(p);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await Promise.all(inflight);
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    console.error(`demo failed: ${error.message}`);
    process.exit(1);
  },
);
