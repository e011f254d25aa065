/**
 * `pnpm fuzz [--iterations N] [--socket-iterations N] [--seed S] [--http2-connections N] [--http2-rounds N]
 *  [--no-http2] [--http2-only] [--no-bad-peers] [--bad-peers-only]`:
 * mutated and random frames through the server's request path — a million in memory through the real
 * connection code, and a share over real sockets while a well-formed client keeps getting answers. No
 * crash, no hang, no memory growth. Then the HTTP/2 target (src/http2): hostile HTTP/2 and mutated gRPC
 * frames against an RpcServer's gRPC listener while a gRPC client calls alongside. Then the bad-peer
 * targets (src/bad-peers): oversized frames both ways, a non-reading peer, slow senders, PING floods and
 * large frames, each with its figures.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runBadPeers } from './bad-peers/index.js';
import { fuzz } from './fuzz-run.js';
import { runHttp2Target } from './http2/http2-target.js';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      iterations: { type: 'string', default: '1000000' },
      'socket-iterations': { type: 'string', default: '20000' },
      seed: { type: 'string', default: String(Date.now() % 1_000_000) },
      'no-bad-peers': { type: 'boolean', default: false },
      'bad-peers-only': { type: 'boolean', default: false },
      'http2-connections': { type: 'string', default: '2000' },
      'http2-rounds': { type: 'string', default: '5' },
      'no-http2': { type: 'boolean', default: false },
      'http2-only': { type: 'boolean', default: false },
    },
  });
  if (values['bad-peers-only']) return badPeers();
  const seed = Number(values.seed);
  const http2 = () => http2Target(seed, Number(values['http2-connections']), Number(values['http2-rounds']));
  if (values['http2-only']) return http2();
  console.log(`fuzzing with seed ${seed}: ${values.iterations} in-memory inputs, ${values['socket-iterations']} over sockets`);
  // A hang shows up as this timer firing: the run must finish on its own.
  const watchdog = setTimeout(() => {
    console.error('fuzz run hung: no progress within 20 minutes');
    process.exit(2);
  }, 20 * 60_000);
  watchdog.unref();
  const report = await fuzz({
    seed,
    iterations: Number(values.iterations),
    socketIterations: Number(values['socket-iterations']),
    crashDir: join(__dirname, '..', 'crashers'),
    log: (line) => console.log(line),
  });
  console.log(`\n${report.inProcessInputs + report.socketInputs} inputs in ${report.seconds.toFixed(1)} s ` +
    `(${report.inProcessInputs} in memory, ${report.socketInputs} over sockets); the well-formed client completed ${report.goodClientCalls} calls`);
  const codes = Object.entries(report.tally.errors).map(([code, n]) => `${code}:${n}`).join(' ');
  console.log(`server answers in memory: ${report.tally.responses} responses (by code ${codes}), ${report.tally.goaways} GOAWAY (closed connections), ${report.tally.pongs} PONG`);
  console.log(`heap growth over the in-memory run: ${report.heapGrowthMb.toFixed(1)} MB`);
  if (report.heapGrowthMb > 32) report.failures.push(`heap grew by ${report.heapGrowthMb.toFixed(1)} MB`);
  if (report.failures.length > 0) {
    console.error(`\n${report.failures.length} failures (inputs saved in apps/fuzz/crashers):\n${report.failures.join('\n')}`);
    return 1;
  }
  console.log('no crash, no hang, no failure');
  if (!values['no-http2'] && (await http2()) !== 0) return 1;
  return values['no-bad-peers'] ? 0 : badPeers();
}

async function http2Target(seed: number, connections: number, rounds: number): Promise<number> {
  console.log(`\nHTTP/2 target (RpcServer with a gRPC listener, limit 64 KiB; a gRPC client alongside; ${rounds} rounds of attacks, ${connections} mutated connections):`);
  const report = await runHttp2Target({ seed, mutatedConnections: connections, rstStreams: 5000, settingsFrames: 20_000, rounds, log: (line) => console.log(line) });
  console.log(`  the well-formed gRPC client made ${report.goodCalls} calls alongside, ${report.goodErrors.length} failed; the server reported ${report.serverReports} protocol problems; ${report.seconds.toFixed(1)} s`);
  if (report.leakedConnections > 0) {
    report.failures.push(`${report.leakedConnections} attack connections still open on the server 5 s after the attackers closed them (known: connections ended with a GOAWAY stay in CLOSE-WAIT)`);
  }
  if (report.failures.length > 0) {
    console.error(`\n${report.failures.length} HTTP/2 target failures (replay: --http2-only --seed ${seed}):\n${report.failures.join('\n')}`);
    return 1;
  }
  console.log('  every attack got a protocol answer; the server kept serving both listeners');
  return 0;
}

async function badPeers(): Promise<number> {
  console.log('\nbad peers (provider in its own process, default options; a normal consumer alongside):');
  const results = await runBadPeers(false, (line) => console.log(line));
  const failed = results.flatMap((r) => r.failures.map((f) => `${r.attack}: ${f}`));
  if (failed.length > 0) {
    console.error(`\n${failed.length} bad-peer failures:\n${failed.join('\n')}`);
    return 1;
  }
  console.log('every bad-peer promise held');
  return 0;
}

main().then((code) => process.exit(code), (error: Error) => {
  console.error(error.stack);
  process.exit(1);
});
