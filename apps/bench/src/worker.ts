/**
 * A benchmark process: either the server or the client of one scenario, driven by the orchestrator
 * (main.ts) over IPC. Server and client run in separate processes pinned to separate cores.
 */
import { grpcKind } from './kinds/grpc.js';
import type { Kind } from './kinds/kind.js';
import { rawKind } from './kinds/raw.js';
import { trellisKind } from './kinds/trellis.js';
import { installTracingSdk, loadedGovernance, missingGovernance } from './governance.js';
import { runRound } from './load.js';

export type KindName = 'trellis' | 'grpc' | 'raw';
const KINDS: Record<KindName, Kind> = { trellis: trellisKind, grpc: grpcKind, raw: rawKind };

export type WorkerArgs =
  | { role: 'server'; kind: KindName; plugins: boolean; sampleRatio?: number }
  | { role: 'client'; kind: KindName; plugins: boolean; sampleRatio?: number; port: number; connections: number };

export type ToWorker =
  | { type: 'cpu' }
  | { type: 'round'; concurrency: number; durationMs: number }
  | { type: 'exit' };

const send = (message: unknown) => process.send!(message);

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2]!) as WorkerArgs;
  const kind = KINDS[args.kind];
  if (args.plugins && args.sampleRatio !== undefined) installTracingSdk(args.sampleRatio);
  if (args.role === 'server') {
    const server = await kind.serve({ plugins: args.plugins });
    process.on('message', async (message: ToWorker) => {
      if (message.type === 'cpu') send({ type: 'cpu', usage: process.cpuUsage(), at: performance.now() });
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
    if (message.type === 'round') send({ type: 'result', result: await runRound(caller, message.concurrency, message.durationMs) });
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
