import type { CallTransport } from './call-transport.js';

/** Each `--protocol` (protocols.ts) and its transport, loaded on use. gRPC adds `['grpc', …]` here. */
export const CALL_TRANSPORTS: ReadonlyMap<string, () => Promise<CallTransport>> = new Map([
  ['trellis', async () => new (await import('./native-transport.js')).NativeTransport()],
]);
