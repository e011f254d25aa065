/**
 * One process of the gRPC benchmark (main.ts forks two per pairing, pinned to separate cores):
 * a server of one side, or a client of one side that runs timed rounds on command.
 */
import { connect, serve, type Side } from './sides.js';

export type GrpcWorkerArgs = { role: 'server'; side: Side } | { role: 'client'; side: Side; port: number };

export type ToGrpcWorker =
  | { type: 'cpu' }
  /** Runs for `durationMs` and, for a warm-up, until at least `minCalls` calls completed. */
  | { type: 'unary'; concurrency: number; durationMs: number; minCalls?: number }
  | { type: 'stream'; durationMs: number }
  | { type: 'exit' };

export interface RoundReport {
  readonly count: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly wallMs: number;
  /** Client process CPU over the round, µs (user + system). */
  readonly cpuUs: number;
}

const send = (message: unknown) => process.send!(message);

async function unaryRound(caller: ReturnType<typeof connect>, concurrency: number, durationMs: number, minCalls = 0): Promise<RoundReport> {
  let count = 0;
  let errors = 0;
  let firstError: string | undefined;
  let id = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  const end = start + durationMs;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end || count + errors < minCalls) {
      try {
        await caller.call(id++);
        count++;
      } catch (error) {
        errors++;
        firstError ??= (error as Error).message;
      }
    }
  }));
  const used = process.cpuUsage(cpu);
  return { count, errors, firstError, wallMs: performance.now() - start, cpuUs: used.user + used.system };
}

async function streamRound(caller: ReturnType<typeof connect>, durationMs: number): Promise<RoundReport> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const stop = new Promise<void>((resolve) => setTimeout(resolve, durationMs));
  const count = await caller.stream(stop);
  const used = process.cpuUsage(cpu);
  return { count, errors: count === 0 ? 1 : 0, wallMs: performance.now() - start, cpuUs: used.user + used.system };
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2]!) as GrpcWorkerArgs;
  if (args.role === 'server') {
    const server = await serve(args.side);
    process.on('message', async (message: ToGrpcWorker) => {
      if (message.type === 'cpu') send({ type: 'cpu', usage: process.cpuUsage() });
      if (message.type === 'exit') {
        await server.close();
        process.exit(0);
      }
    });
    send({ type: 'ready', port: server.port });
    return;
  }
  const caller = connect(args.side, args.port);
  process.on('message', async (message: ToGrpcWorker) => {
    if (message.type === 'unary') send({ type: 'result', report: await unaryRound(caller, message.concurrency, message.durationMs, message.minCalls) });
    if (message.type === 'stream') send({ type: 'result', report: await streamRound(caller, message.durationMs) });
    if (message.type === 'exit') {
      caller.close();
      process.exit(0);
    }
  });
  send({ type: 'ready' });
}

process.on('disconnect', () => process.exit(0));
main().catch((error: Error) => {
  send({ type: 'failed', message: error.stack ?? error.message });
  process.exit(1);
});
