import { RpcClient, RpcServer, type Plugin } from '@trellis/core';
import { loadProto } from '@trellis/codec-protobuf';
import { BENCH_PROTO, type EchoRequest } from '../payload.js';
import { clientGovernance, serverGovernance } from '../governance.js';
import type { Kind } from './kind.js';

const service = () => loadProto(BENCH_PROTO).service('bench.BenchService');

/** Trellis as a user writes it: an async handler, a typed stub; with `plugins`, every governance plugin. */
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
    const stub = client.stub<{ echo(request: EchoRequest): Promise<unknown> }>();
    // The stub's promise is the API; `.then` with the slot's prebuilt callbacks is the cheapest way to
    // consume it (one derived promise, no closure per call).
    return { call: (request, slot) => void stub.echo(request).then(slot.ok, slot.fail), close: () => client.close() };
  },
};
