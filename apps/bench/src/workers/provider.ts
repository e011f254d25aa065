/**
 * The provider of the workers benchmark: this module is what the primary and every worker run
 * (node:cluster re-executes it). BENCH_WORKERS=0 serves from this one process (no `workers` option).
 * BENCH_BURN_ITERATIONS: the Burn handler's fixed work (burn.ts), calibrated once by the bench so
 * every shape's every call does the same; without it, ≈ 200 µs calibrated here.
 * The primary reports { type: 'ready', port, pids } over the parent's IPC channel and stops on 'close'.
 */
import cluster from 'node:cluster';
import { RpcServer, type MessageCodec, type ServiceDefinition } from '@trellis/core';
import { burn, calibrateBurn } from './burn.js';

const jsonCodec: MessageCodec<unknown> = {
  encode: (message) => Buffer.from(JSON.stringify(message)),
  decode: (bytes) => JSON.parse(Buffer.from(bytes).toString('utf8')),
};
const method = (name: string) => ({
  name, localName: name[0]!.toLowerCase() + name.slice(1), requestCodec: jsonCodec, responseCodec: jsonCodec, idempotent: true, options: {},
});
export const BENCH_SERVICE: ServiceDefinition = { name: 'bench.Work', methods: { Echo: method('Echo'), Burn: method('Burn') } };

function main(): void {
  const workers = Number(process.env.BENCH_WORKERS ?? '0');
  const iterations = Number(process.env.BENCH_BURN_ITERATIONS) || calibrateBurn(200);
  const server = new RpcServer({ host: '127.0.0.1', ...(workers > 0 ? { workers: { count: workers } } : {}) });
  server.addService(BENCH_SERVICE, {
    echo: (request: unknown) => request,
    // The answer depends on the result (xorshift never reaches 0), so the loop is work V8 must do.
    burn: (request: unknown) => (burn(iterations) === 0 ? {} : request),
  });
  server.start().then(() => {
    if (!cluster.isPrimary) return;
    const pids = [process.pid, ...server.workers.map((w) => w.pid!)];
    process.send?.({ type: 'ready', port: server.port, pids });
    process.on('message', (message) => {
      if (message === 'close') void server.close({ graceMs: 1000 }).then(() => process.exit(0));
    });
  }, (error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}

main();
