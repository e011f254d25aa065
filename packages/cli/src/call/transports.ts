import type { CallTransport, TransportDeps } from './call-transport.js';

/** Each `--protocol` (protocols.ts) and its transport, loaded on use. */
export const CALL_TRANSPORTS: ReadonlyMap<string, (deps: TransportDeps) => Promise<CallTransport>> = new Map<string, (deps: TransportDeps) => Promise<CallTransport>>([
  ['trellis', async () => new (await import('./native-transport.js')).NativeTransport()],
  ['grpc', async (deps) => new (await import('./grpc-transport.js')).GrpcTransport(await deps.grpcClient())],
]);
