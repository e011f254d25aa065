import { RpcClient, RpcServer, type Plugin } from '@trellis/core';
import { loadProto } from '@trellis/codec-protobuf';
import { BENCH_PROTO, makeRequest } from '../payload.js';
import { clientGovernance, serverGovernance } from '../governance.js';
import type { Kind } from './kind.js';

const service = () => loadProto(BENCH_PROTO).service('bench.BenchService');

export const trellisKind: Kind = {
  async serve({ plugins }) {
    const server = new RpcServer({ host: '127.0.0.1', plugins: plugins ? serverGovernance() : [] });
    server.addService(service(), { echo: async (request: unknown) => request });
    await server.start();
    return { port: server.port, close: () => server.close({ graceMs: 1000 }) };
  },
  async connect({ port, connections, plugins }) {
    const governance: Plugin[] = plugins ? clientGovernance() : [];
    const client = new RpcClient({
      service: service(),
      addresses: [`127.0.0.1:${port}`],
      tcp: { connectionsPerEndpoint: connections },
      timeoutMs: 10_000,
      plugins: governance,
    });
    await client.start();
    const stub = client.stub<{ echo(request: unknown): Promise<unknown> }>();
    return { call: (id) => stub.echo(makeRequest(id)), close: () => client.close() };
  },
};
