export { health, type HealthPlugin } from './plugin.js';
export type { HealthOptions, AvailabilityOptions, LoopStallOptions, HttpEndpointOptions } from './options.js';
export { resolveHealthOptions, type ResolvedHealthOptions, type ResolvedAvailability } from './options.js';
export {
  HealthEvents, formatHealthChange, type HealthChangeEvent, type HeartbeatEvent, type HealthEventMap, type EndpointHealth,
} from './health-events.js';
export { HealthMonitor } from './health-monitor.js';
export { AvailabilityWindow } from './availability-window.js';
export { LoopStallMonitor } from './loop-stall-monitor.js';
export { WarmupRouter, warmupWeight, WARMUP_REFRESH_MS, type WarmupRouterOptions } from './warmup.js';
export { availabilityObserver } from './availability-observer.js';
export { HealthHttpEndpoint, type HttpEndpointSettings } from './http-endpoint.js';
export { serveWorkerHealth, type WorkerHealthEndpoint } from './worker-health.js';
