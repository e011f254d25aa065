/**
 * A real worker group (`RpcServer({ workers })`) in a child process, for the tests of plugins that
 * have a part in the primary (admin's console, health's and metrics' group endpoints). Two halves:
 * - the fixture module (a plain .cjs on the built packages, so a worker starts fast) builds its
 *   server with its plugins and calls `serveWorkerGroupFixture(server, …)`; the primary and every
 *   worker run that module (node:cluster re-executes it);
 * - the test calls `startWorkerGroup(fixturePath)` and gets what the primary reported once every
 *   worker was ready, every other message it sends (worker events…), and `stop()`.
 */
import { fork, type ChildProcess } from 'node:child_process';
import cluster from 'node:cluster';
import { RpcClient, type MessageCodec, type RpcServer, type ServiceDefinition } from '@trellis/core';

const jsonCodec: MessageCodec<unknown> = {
  encode: (message) => Buffer.from(JSON.stringify(message)),
  decode: (bytes) => JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown,
};

/** `test.Echo`, JSON-coded (no .proto to load in every worker): Echo answers `{ servedBy: <worker pid> }`. */
export const WORKER_GROUP_ECHO: ServiceDefinition = {
  name: 'test.Echo',
  methods: { Echo: { name: 'Echo', localName: 'echo', requestCodec: jsonCodec, responseCodec: jsonCodec, idempotent: true, options: {} } },
};

/** What the primary always reports: the group's port and the pid of each worker it forked. */
export interface WorkerGroupReady {
  readonly port: number;
  readonly pids: number[];
}

export interface WorkerGroupFixtureOptions<Extra> {
  /** In the primary once the group serves: what it adds to the ready report (a console's URL…). */
  readonly onReady?: () => Extra | Promise<Extra>;
  /** In the primary on `stop()`, before the server closes (an endpoint of its own). */
  readonly onClose?: () => Promise<void>;
}

/**
 * The fixture's side: adds `WORKER_GROUP_ECHO` to `server`, starts it and, in the primary, reports
 * `{ ready: { port, pids, …onReady() } }` to the test over IPC and closes gracefully on 'close'.
 * A failure to start (or in `onReady`) is printed and ends the process: the test sees the exit.
 */
export function serveWorkerGroupFixture<Extra extends object = object>(server: RpcServer, options: WorkerGroupFixtureOptions<Extra> = {}): void {
  server.addService(WORKER_GROUP_ECHO, { echo: () => ({ servedBy: String(process.pid) }) });
  const fail = (error: unknown): void => {
    console.error(error);
    process.exit(1);
  };
  server.start().then(async () => {
    if (!cluster.isPrimary) return;
    const extra = (await options.onReady?.()) ?? {};
    process.on('message', (command) => {
      if (command !== 'close') return;
      void (options.onClose?.() ?? Promise.resolve()).then(() => server.close({ graceMs: 1000 })).then(() => process.exit(0), fail);
    });
    const ready: WorkerGroupReady = { port: server.port, pids: server.workers.map((w) => w.pid!) };
    process.send?.({ ready: { ...ready, ...extra } });
  }).catch(fail);
}

/** A message from the fixture's primary: its ready report, or what else the fixture sends (`{ event }`…). */
export type WorkerGroupMessage = { readonly ready?: WorkerGroupReady } & Record<string, unknown>;

export interface WorkerGroupProcess<Ready extends WorkerGroupReady> {
  readonly child: ChildProcess;
  readonly ready: Ready;
  /** The first message (received so far or to come) that `matches`; rejects if the process exits first. */
  next(matches: (message: WorkerGroupMessage) => boolean): Promise<WorkerGroupMessage>;
  /** Asks the primary to close (graceful: its workers drain) and resolves when it exited. */
  close(): Promise<void>;
  /** SIGKILLs the primary if it still runs (its workers exit with their IPC channel); resolves on its exit. */
  stop(): Promise<void>;
}

/** Forks `fixture` (a module calling `serveWorkerGroupFixture`) and resolves once its primary reported ready. */
export async function startWorkerGroup<Ready extends WorkerGroupReady = WorkerGroupReady>(fixture: string): Promise<WorkerGroupProcess<Ready>> {
  // execArgv: [] — the fixture is plain JS; a test runner's loader flags would only slow every worker down.
  const child = fork(fixture, [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) => child.once('exit', (code) => {
    exitCode = code;
    resolve();
  }));
  const messages: WorkerGroupMessage[] = [];
  const waiters = new Set<(message: WorkerGroupMessage) => void>();
  child.on('message', (message: WorkerGroupMessage) => {
    messages.push(message);
    for (const waiter of [...waiters]) waiter(message);
  });
  const next = (matches: (message: WorkerGroupMessage) => boolean): Promise<WorkerGroupMessage> => new Promise((resolve, reject) => {
    const found = messages.find(matches);
    if (found !== undefined) return resolve(found);
    const waiter = (message: WorkerGroupMessage): void => {
      if (!matches(message)) return;
      waiters.delete(waiter);
      resolve(message);
    };
    waiters.add(waiter);
    void exited.then(() => {
      if (!waiters.delete(waiter)) return;
      reject(new Error(`the worker group's primary exited (${exitCode}) before the awaited message`));
    });
  });
  const stop = async (): Promise<void> => {
    if (exitCode === undefined) child.kill('SIGKILL');
    await exited;
  };
  try {
    const { ready } = await next((m) => m.ready !== undefined);
    return {
      child, ready: ready as Ready, next, stop,
      close: async () => {
        if (exitCode === undefined) child.send('close');
        await exited;
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * A client of the group's `WORKER_GROUP_ECHO` with `connections` connections to `port`: node:cluster
 * hands each new connection to the next worker, so several connections reach every worker.
 */
export function workerGroupClient(port: number, connections: number): RpcClient {
  return new RpcClient({ service: WORKER_GROUP_ECHO, addresses: [`127.0.0.1:${port}`], tcp: { connectionsPerEndpoint: connections } });
}

/** `calls` Echo calls through `client`, one after another; returns how many each worker (by pid) answered. */
export async function echoAcrossWorkers(client: RpcClient, calls: number): Promise<Map<string, number>> {
  const servedBy = new Map<string, number>();
  for (let i = 0; i < calls; i++) {
    const { servedBy: pid } = (await client.invoke('Echo', {})) as { servedBy: string };
    servedBy.set(pid, (servedBy.get(pid) ?? 0) + 1);
  }
  return servedBy;
}
