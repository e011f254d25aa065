// The frame of the scripts that measure what a call costs on the SERVER side of the "trellis" kind
// (packages/core/bench/server-cost.js, plugins/tracing/bench/server-counts.js): for each mode a
// server process of its own (bare, or with every server governance plugin), and a client that
// connects to it and answers `{ calls }` messages with `runCalls` — in a worker thread, so that
// per-isolate measurements (heap profiles, GC entries, promise hooks, a wrapped clock) see the
// server alone, or in a process of its own when the server's process must have one isolate
// (--trace-gc-nvp). The script supplies what differs: its modes, what to prepare on both sides,
// what to measure in the server process, and how to print it.
//
// The script runs itself again as the server process and as the client, with `--server <mode>` and
// `--client <mode> <port>`. The kind and `runCalls` are loaded from `root`'s apps/bench build, so a
// script can measure another checkout (its `--root`) with this same frame.
import { fork } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, parentPort } from 'node:worker_threads';
import type { Kind } from './kinds/kind.js';
import type { runCalls } from './load.js';

/** Runs `calls` calls on the client and resolves with what `runCalls` answered. */
export type AskClient = (calls: number) => Promise<{ calls: number; errors: number }>;

export interface ServerSideCost<Result extends object> {
  /** The calling script (`__filename`): the server processes and clients run it again. */
  readonly script: string;
  /** The checkout whose apps/bench build is measured. */
  readonly root: string;
  /** Modes measured, one server process each, in order; `bare` serves with no plugins. */
  readonly modes: readonly string[];
  /** Calls in flight on the one connection. */
  readonly concurrency: number;
  /** Calls before `measure`: every series, cache and JIT tier in place. */
  readonly warmUpCalls: number;
  /** Printed once, before the first mode. */
  readonly title: string;
  /** Runs on both sides before the kind is loaded (e.g. installs a tracing SDK). */
  readonly prepare?: (mode: string) => void;
  /** The client in a forked process instead of a worker thread (the server's process keeps one isolate). */
  readonly clientProcess?: boolean;
  /** Node flags of the server process; with `captureServerStdout` its stdout is handed to `report`. */
  readonly serverExecArgv?: readonly string[];
  readonly captureServerStdout?: boolean;
  /** In the server process, after the warm-up: what one mode measures (sent to the parent by IPC). */
  readonly measure: (mode: string, ask: AskClient) => Promise<Result>;
  /** In the parent: prints one mode's result. */
  readonly report: (result: Result, serverStdout: string) => void;
}

async function fromBuild<Module>(root: string, file: string): Promise<Module> {
  return (await import(pathToFileURL(path.join(root, 'apps/bench/dist', file)).href)) as Module;
}

async function trellisKind(root: string): Promise<Kind> {
  return (await fromBuild<{ trellisKind: Kind }>(root, 'kinds/trellis.js')).trellisKind;
}

/** Dispatches on the script's arguments: parent (every mode), `--server <mode>` or `--client <mode> <port>`. */
export function runServerSideCost<Result extends object>(cost: ServerSideCost<Result>): void {
  const [role, mode, port] = process.argv.slice(2);
  const run = role === '--client' ? client(cost, mode!, Number(port)) : role === '--server' ? server(cost, mode!) : parent(cost);
  run.catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}

async function parent<Result extends object>(cost: ServerSideCost<Result>): Promise<void> {
  console.log(cost.title);
  for (const mode of cost.modes) {
    const { result, stdout } = await new Promise<{ result: Result; stdout: string }>((resolve, reject) => {
      const child = fork(cost.script, ['--server', mode], {
        stdio: ['ignore', cost.captureServerStdout ? 'pipe' : 'inherit', 'inherit', 'ipc'],
        execArgv: [...process.execArgv, ...(cost.serverExecArgv ?? [])],
      });
      let stdout = '';
      child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk));
      // The result arrives before the exit; stdout is complete only at the exit.
      child.once('message', (result) => child.once('exit', () => resolve({ result: result as Result, stdout })));
      child.once('exit', (code) => code !== 0 && reject(new Error(`${mode} exited with ${code}`)));
    });
    cost.report(result, stdout);
  }
}

async function server<Result extends object>(cost: ServerSideCost<Result>, mode: string): Promise<void> {
  cost.prepare?.(mode);
  const served = await (await trellisKind(cost.root)).serve({ plugins: mode !== 'bare' });
  const args = ['--client', mode, String(served.port)];
  const peer = cost.clientProcess
    ? fork(cost.script, args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
    : new Worker(cost.script, { argv: args });
  const ask: AskClient = (calls) => new Promise((resolve) => {
    peer.once('message', resolve);
    if (peer instanceof Worker) peer.postMessage({ calls });
    else peer.send({ calls });
  });
  await ask(cost.warmUpCalls);
  const result = await cost.measure(mode, ask);
  if (peer instanceof Worker) await peer.terminate();
  else peer.kill();
  await served.close();
  process.send!(result);
  process.exit(0);
}

async function client<Result extends object>(cost: ServerSideCost<Result>, mode: string, port: number): Promise<void> {
  // A worker thread's port, or the IPC channel of a forked process.
  const channel = parentPort ?? { on: (event: 'message', listener: (message: unknown) => void) => process.on(event, listener), postMessage: (message: unknown) => process.send!(message) };
  cost.prepare?.(mode);
  const caller = await (await trellisKind(cost.root)).connect({ port, connections: 1, plugins: mode !== 'bare' });
  const load = await fromBuild<{ runCalls: typeof runCalls }>(cost.root, 'load.js');
  channel.on('message', (message) => {
    const { calls } = message as { calls: number };
    void load.runCalls(caller, calls, cost.concurrency).then((done) => channel.postMessage(done));
  });
}
