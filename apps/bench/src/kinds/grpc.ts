import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { BENCH_PROTO, type EchoRequest } from '../payload.js';
import type { CallSlot, Kind } from './kind.js';

const OPTIONS = { longs: String, enums: String, defaults: true, oneofs: true };

function definition() {
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(BENCH_PROTO, OPTIONS)) as unknown as {
    bench: { BenchService: grpc.ServiceClientConstructor };
  };
  return pkg.bench.BenchService;
}

type EchoClient = { echo: (request: EchoRequest, callback: CallSlot['node']) => void };

/** @grpc/grpc-js unary echo, loaded with @grpc/proto-loader: what Node users run today. */
export const grpcKind: Kind = {
  async serve() {
    const server = new grpc.Server();
    server.addService(definition().service, {
      echo: (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => callback(null, call.request),
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, p) => (error ? reject(error) : resolve(p))),
    );
    return { port, close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) };
  },
  async connect({ port, connections }) {
    const Service = definition();
    // A local subchannel pool per client gives each client its own HTTP/2 connection.
    const clients = Array.from({ length: connections }, () =>
      new Service(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }) as unknown as EchoClient & grpc.Client,
    );
    let next = 0;
    return {
      // grpc-js's own callback API: no promise between it and the loop.
      call: (request, slot) => clients[next++ % clients.length]!.echo(request, slot.node),
      close: async () => clients.forEach((c) => c.close()),
    };
  },
};
