export { freePort } from './free-port.js';
export * from './zookeeper-server.js';
export * from './etcd-server.js';
export * from './echo-service.js';
export * from './provider-process.js';
export { waitFor } from './wait-for.js';
export { seededRandom } from './seeded-random.js';
export { FaultProxy, type FaultMode } from './fault-proxy.js';
export { startFaultyProvider, type FaultyProvider, type FaultyProviderOptions, type ProviderFault } from './fault-provider.js';
