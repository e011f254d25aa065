/**
 * A provider process serving EchoService from a worker group (`RpcServer({ workers })`), for the
 * worker scenarios. This module is what the primary and each worker run. Settings arrive as JSON in
 * argv[2] (node:cluster passes the arguments on to the workers); the primary reports over IPC —
 * { ready }, { event } per worker event, { reloaded } — and takes 'reload' and 'close'.
 */
import cluster from 'node:cluster';
import { RpcServer, type WorkerEvent } from '@trellis/core';
import { etcdRegistry } from '@trellis/discovery-etcd';
import { createEchoHandlers, loadEchoService } from '@trellis/testkit';

export interface WorkerGroupProviderArgs {
  readonly etcdEndpoints: string;
  readonly workers: number;
  /** Service time per call, so a fault always catches calls in flight. */
  readonly delayMs: number;
}

export type WorkerGroupMessage =
  | { readonly ready: { readonly port: number; readonly pids: number[] } }
  | { readonly event: WorkerEvent }
  | { readonly reloaded: { readonly pids: number[] } }
  | { readonly failed: string };

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2]!) as WorkerGroupProviderArgs;
  const toParent = (message: WorkerGroupMessage): void => void process.send?.(message);
  // Only the primary registers: the workers get no registry (and open no etcd connection).
  const registry = cluster.isPrimary ? etcdRegistry({ endpoints: args.etcdEndpoints, ttlSeconds: 2, snapshotDir: false, onError: () => {} }) : undefined;
  const server = new RpcServer({
    host: '127.0.0.1',
    registry,
    workers: { count: args.workers, respawnBackoff: { initialMs: 100, maxMs: 1000 }, onEvent: (event) => toParent({ event }) },
  });
  const handlers = createEchoHandlers({
    servedBy: String(process.pid),
    onCall: (_method, request) => {
      if (request.delayMs === 0) request.delayMs = args.delayMs;
    },
  });
  server.addService(loadEchoService(), handlers);
  await server.start();
  if (!cluster.isPrimary) return;
  const pids = () => server.workers.map((w) => w.pid!);
  toParent({ ready: { port: server.port, pids: pids() } });
  process.on('message', (command: string) => {
    if (command === 'reload') {
      server.reload({ graceMs: 5000 }).then(() => toParent({ reloaded: { pids: pids() } }), (error: Error) => toParent({ failed: error.message }));
    } else if (command === 'close') {
      void server.close({ graceMs: 5000 }).then(async () => {
        await registry?.close();
        process.exit(0);
      });
    }
  });
}

main().catch((error: Error) => {
  process.send?.({ failed: error.message });
  process.exit(1);
});
