/**
 * An EchoService provider in this process, on a free loopback port: what a plugin's end-to-end test
 * needs when the provider's behaviour (a fixed extra delay, a record of what it served) is all that
 * matters. Child-process providers (startProvider) are for tests that freeze or kill them.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { RpcServer } from '@trellis/core';
import { createEchoHandlers, loadEchoService, type EchoReply, type EchoRequest } from './echo-service.js';

export interface EchoServerOptions {
  /** Put in every reply's `servedBy`. */
  readonly servedBy: string;
  /** Extra time every Echo call takes before it answers (ms). Default 0. */
  readonly delayMs?: number;
  /** Called as each call starts (the .proto method name and the request). */
  readonly onCall?: (method: string, request: EchoRequest) => void;
}

export interface EchoServer {
  /** `127.0.0.1:port`, as a static address list takes it. */
  readonly address: string;
  readonly server: RpcServer;
  close(): Promise<void>;
}

export async function startEchoServer(options: EchoServerOptions): Promise<EchoServer> {
  const handlers = createEchoHandlers({ servedBy: options.servedBy, onCall: options.onCall });
  const delayMs = options.delayMs ?? 0;
  const server = new RpcServer({ host: '127.0.0.1', port: 0 });
  server.addService(loadEchoService(), {
    echo: async (request: EchoRequest, call: Parameters<typeof handlers.echo>[1]) => {
      if (delayMs > 0) await sleep(delayMs);
      return handlers.echo(request, call);
    },
    mutate: handlers.mutate,
  });
  await server.start();
  return { address: `127.0.0.1:${server.port}`, server, close: () => server.close({ graceMs: 100 }) };
}

/** The Echo method of a typed stub (`client.stub<…>()`) or of a reference. */
export interface EchoCaller {
  echo(request: Partial<EchoRequest>): Promise<EchoReply>;
}

/**
 * `callers` callers in a closed loop, `calls` Echo calls in all; returns how many calls each
 * server (its `servedBy`) answered.
 */
export async function countServedBy(stub: EchoCaller, calls: number, callers: number): Promise<Map<string, number>> {
  const served = new Map<string, number>();
  let left = calls;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (left-- > 0) {
        const reply = await stub.echo({ message: 'load' });
        served.set(reply.servedBy, (served.get(reply.servedBy) ?? 0) + 1);
      }
    }),
  );
  return served;
}
