/**
 * A benchmark process: either the server or the client of one scenario, driven by the orchestrator
 * (main.ts) over IPC. Server and client run in separate processes pinned to separate cores.
 */
import { grpcKind } from './kinds/grpc.js';
import type { Kind } from './kinds/kind.js';
import { rawKind } from './kinds/raw.js';
import { tightRawKind } from './kinds/tight-raw.js';
import { trellisKind } from './kinds/trellis.js';
import { loadedGovernance, missingGovernance } from './governance.js';
import { installTracingSdk } from './kinds/tracing-sdk.js';
import { callOnce, runLoop, summarizeLoop, type RoundResult } from './load.js';
import { CHECK_REQUEST, echoMismatch } from './payload.js';
import { observeGc, snapshot } from './process-stats.js';
import { countPromises, probeSockets, type SocketCounts } from './probes.js';
import { startProfile, stopProfile, type ProfileMode } from './profiler.js';

export type KindName = 'trellis' | 'grpc' | 'raw' | 'tight-raw';
const KINDS: Record<KindName, Kind> = { trellis: trellisKind, grpc: grpcKind, raw: rawKind, 'tight-raw': tightRawKind };

export type WorkerArgs =
  | { role: 'server'; kind: KindName; plugins: boolean; sampleRatio?: number }
  | { role: 'client'; kind: KindName; plugins: boolean; sampleRatio?: number; port: number; connections: number };

export type ProbeName = 'promises' | 'sockets';

export type ToWorker =
  | { type: 'stats' }
  | { type: 'probe-start'; probe: ProbeName }
  | { type: 'probe-stop' }
  | { type: 'profile-start'; mode: ProfileMode }
  | { type: 'profile-stop'; mode: ProfileMode; path: string }
  | { type: 'check' }
  | { type: 'round'; concurrency: number; durationMs: number; probe?: ProbeName; profile?: { mode: ProfileMode; path: string } }
  | { type: 'exit' };

export interface ProbeResult {
  readonly promises?: number;
  readonly sockets?: SocketCounts;
}

export type FromWorker =
  | { type: 'ready'; port?: number; plugins: string[]; missing: string[] }
  | { type: 'failed'; message: string }
  | { type: 'stats'; snapshot: ReturnType<typeof snapshot> }
  | { type: 'probe-started' }
  | ({ type: 'probe' } & ProbeResult)
  | { type: 'profile-started' }
  | { type: 'profiled' }
  | { type: 'checked'; mismatch?: string }
  | ({ type: 'result'; result: RoundResult } & ProbeResult);

const send = (message: FromWorker) => process.send!(message);

/** The probe running in this process, if any. */
let stopProbe: (() => ProbeResult) | undefined;

function startProbe(probe: ProbeName): void {
  if (probe === 'promises') {
    const counter = countPromises();
    stopProbe = () => ({ promises: counter.stop() });
  } else {
    const counter = probeSockets();
    stopProbe = () => ({ sockets: counter.stop() });
  }
}

function endProbe(): ProbeResult {
  const result = stopProbe?.() ?? {};
  stopProbe = undefined;
  return result;
}

/** Messages both roles answer: stats, probes, profiles. */
async function common(message: ToWorker): Promise<boolean> {
  switch (message.type) {
    case 'stats':
      send({ type: 'stats', snapshot: snapshot() });
      return true;
    case 'probe-start':
      startProbe(message.probe);
      send({ type: 'probe-started' });
      return true;
    case 'probe-stop':
      send({ type: 'probe', ...endProbe() });
      return true;
    case 'profile-start':
      await startProfile(message.mode);
      send({ type: 'profile-started' });
      return true;
    case 'profile-stop':
      await stopProfile(message.mode, message.path);
      send({ type: 'profiled' });
      return true;
    default:
      return false;
  }
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2]!) as WorkerArgs;
  const kind = KINDS[args.kind];
  observeGc();
  if (args.plugins && args.sampleRatio !== undefined) installTracingSdk(args.sampleRatio);
  if (args.role === 'server') {
    const server = await kind.serve({ plugins: args.plugins });
    process.on('message', async (message: ToWorker) => {
      if (await common(message)) return;
      if (message.type === 'exit') {
        await server.close();
        process.exit(0);
      }
    });
    send({ type: 'ready', port: server.port, plugins: [...loadedGovernance], missing: [...missingGovernance] });
    return;
  }
  const caller = await kind.connect({ port: args.port, connections: args.connections, plugins: args.plugins });
  process.on('message', async (message: ToWorker) => {
    if (await common(message)) return;
    if (message.type === 'check') {
      try {
        send({ type: 'checked', mismatch: echoMismatch(await callOnce(caller, CHECK_REQUEST)) });
      } catch (error) {
        send({ type: 'checked', mismatch: `the check call failed: ${(error as Error).message}` });
      }
    }
    if (message.type === 'round') {
      if (message.probe) startProbe(message.probe);
      if (message.profile) await startProfile(message.profile.mode);
      const loop = await runLoop(caller, message.concurrency, message.durationMs);
      if (message.profile) await stopProfile(message.profile.mode, message.profile.path);
      const result = summarizeLoop(loop);
      send({ type: 'result', result, ...(message.probe ? endProbe() : {}) });
    }
    if (message.type === 'exit') {
      await caller.close();
      process.exit(0);
    }
  });
  send({ type: 'ready', plugins: [...loadedGovernance], missing: [...missingGovernance] });
}

process.on('disconnect', () => process.exit(0));
main().catch((error: Error) => {
  send({ type: 'failed', message: error.stack ?? error.message });
  process.exit(1);
});
