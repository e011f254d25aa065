import { Code, RpcError, RpcServer, type Registry } from '@trellis/core';
import { createEchoHandlers, loadEchoService, type EchoRequest } from './echo-service.js';
import { FaultProxy } from './fault-proxy.js';

/**
 * What an in-process provider does wrong. Handler faults act per call; `frozen` and `dropping` act on
 * the connection, through a FaultProxy in front of the server (a SIGSTOPped process keeps its
 * connections open and answers nothing; a flaky path resets them).
 */
export type ProviderFault =
  /** Answers every call after its base latency. */
  | 'none'
  /** Every call fails: the handler throws a plain Error (UNKNOWN to the caller), as a broken dependency does. */
  | 'failing'
  /** Every `businessEvery`-th call (default 10th) is answered NOT_FOUND: an answer, not a failure. */
  | 'business'
  /** Answers after `slowFactor` × its base latency (default 10×). */
  | 'slow'
  /** Answers nothing: bytes in either direction are dropped, connections stay open, new ones are accepted. */
  | 'frozen'
  /** Resets its connections: each chunk in either direction resets the connection with `dropProbability`. */
  | 'dropping';

export interface FaultyProviderOptions {
  readonly name: string;
  /** Every answer waits this long (default 1 ms), so `slow` has something to multiply. */
  readonly latencyMs?: number;
  readonly fault?: ProviderFault;
  readonly businessEvery?: number;
  readonly slowFactor?: number;
  /** For `dropping` (default 0.05). */
  readonly dropProbability?: number;
  /** Uniform in [0, 1), for `dropping` (default Math.random; pass testkit's seededRandom). */
  readonly random?: () => number;
  /** Put a FaultProxy in front even if the first fault does not need one (to switch to frozen/dropping later). */
  readonly proxied?: boolean;
  readonly registry?: Registry;
}

export interface FaultyProvider {
  readonly name: string;
  /** host:port consumers call: the proxy's when there is one. */
  readonly address: string;
  readonly server: RpcServer;
  readonly proxy: FaultProxy | undefined;
  /** Calls that reached the handler, and how many of them were made to fail or answer NOT_FOUND. */
  readonly stats: { handled: number; failed: number; business: number };
  readonly fault: ProviderFault;
  /** Changes the fault; `frozen` and `dropping` need the proxy (`proxied`, or started with one of them). */
  setFault(fault: ProviderFault): void;
  close(): Promise<void>;
}

const needsProxy = (fault: ProviderFault): boolean => fault === 'frozen' || fault === 'dropping';

/**
 * An EchoService provider in this process, on loopback, whose fault a test switches at will: the
 * building block of the combination matrix (apps/matrix) and of tests that need a provider to fail
 * in a controlled, repeatable way without a child process.
 */
export async function startFaultyProvider(options: FaultyProviderOptions): Promise<FaultyProvider> {
  const { name, latencyMs = 1, businessEvery = 10, slowFactor = 10, dropProbability = 0.05, random = Math.random } = options;
  let fault: ProviderFault = options.fault ?? 'none';
  const stats = { handled: 0, failed: 0, business: 0 };
  const handlers = createEchoHandlers({
    servedBy: name,
    onCall: (_method, request: EchoRequest) => {
      stats.handled++;
      if (fault === 'failing') {
        stats.failed++;
        throw new Error(`${name}: its database is down`);
      }
      if (request.delayMs === 0) request.delayMs = fault === 'slow' ? latencyMs * slowFactor : latencyMs;
      if (fault === 'business' && stats.handled % businessEvery === 0) {
        stats.business++;
        request.failCode = Code.NOT_FOUND;
        request.failMessage = `${name}: no such item`;
      }
    },
  });
  const server = new RpcServer({ host: '127.0.0.1', advertiseHost: '127.0.0.1', registry: options.registry, redactErrors: false });
  server.addService(loadEchoService(), handlers);
  await server.start();
  let proxy: FaultProxy | undefined;
  if (options.proxied || needsProxy(fault)) proxy = await new FaultProxy(server.port, random).start();
  const apply = (): void => {
    if (proxy === undefined) return;
    if (fault === 'frozen') proxy.setMode({ kind: 'blackhole' });
    else if (fault === 'dropping') proxy.setMode({ kind: 'reset', probability: dropProbability });
    else proxy.setMode({ kind: 'pass' });
  };
  apply();
  return {
    name,
    address: `127.0.0.1:${proxy?.port ?? server.port}`,
    server,
    proxy,
    stats,
    get fault() {
      return fault;
    },
    setFault(next) {
      if (needsProxy(next) && proxy === undefined) {
        throw new RpcError(Code.FAILED_PRECONDITION, `provider ${name} has no proxy for the "${next}" fault: start it with proxied: true`);
      }
      fault = next;
      apply();
    },
    async close() {
      await proxy?.close();
      await server.close({ graceMs: 0 });
    },
  };
}
