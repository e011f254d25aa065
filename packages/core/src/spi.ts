/**
 * The plugin-author API: everything needed to write a registry, router, load balancer, health view,
 * transport or interceptor plugin. Application code imports from `@trellis/core` instead.
 */
export type { Plugin, PluginMeta, ClientPluginContext, ServerPluginContext, PrimaryPluginContext } from './plugin.js';
export { definePlugin, checkPlugin } from './plugin.js';
export type { Registry, ConfigSource, ConfigListener, Disposable, EndpointsListener, ServiceQuery } from './registry.js';
export { RegistryPaths, isConfigSource } from './registry.js';
export type { Endpoint, InstanceInfo, MethodTraits, ProtocolPort, ProtocolPorts } from './endpoint.js';
export { endpointId, endpointFromInstance, instanceDocument, parseInstance, DEFAULT_WEIGHT } from './endpoint.js';
export type { Router } from './router.js';
export { RouterOrder } from './router.js';
export type { LoadBalancer, LoadBalancerFactory, Pick, PickOutcome } from './balancer/load-balancer.js';
export { NOOP_DONE } from './balancer/load-balancer.js';
export { balancerPlugin, type BalancerPlugin, type BalancerPluginOptions } from './balancer/balancer-plugin.js';
export type { HealthView, EndpointState, EndpointStateChange } from './health.js';
export type {
  ClientTransport, ServerTransport, OutboundRequest, InboundResponse, ResponseSink, InboundRequest, ServerExchange,
  RequestHandler, Listener, ListenOptions, ConnectionState, ConnectionEvent, PeerInfo, ServingView,
} from './transport.js';
export type {
  StreamKind, OutboundStream, ClientStream, InboundStream, ServerStreamExchange, StreamHandler, MessageWriter,
} from './transport-stream.js';
export type { Invocation, Invoker, Interceptor, EndpointInvoker, EndpointInterceptor, Result } from './invocation.js';
export type { Attempt, CallEnd, CallObserver, StreamStats } from './observer.js';
export { InterceptorOrder, EndpointInterceptorOrder, withInvocation, composeInterceptors, composeEndpointInterceptors, EMPTY_SET } from './invocation.js';
export type { ServerInvocation, ServerInvoker, ServerInterceptor } from './server/server-invocation.js';
export { ServerInterceptorOrder } from './server/server-invocation.js';
export type { Clock } from './clock.js';
export { systemClock } from './clock.js';
export { TOKENS } from './tokens.js';
export { KERNEL_VERSION } from './version.js';
export { invalidOption, notExecuted, ErrorCodes, describeValue } from './errors.js';
export { DEFAULT_FAILURE_CODES, isFailure, failurePredicate, parseCode, parseCodes, type FailurePredicate, type InvalidOptionFactory } from './failure.js';
export { closestName, rejectUnknownKeys } from './options.js';
export { createContextKey, ContextValues, type ContextKey } from './context-key.js';
export { ExponentialBackoff, type BackoffOptions } from './backoff.js';
export { afterPause } from './client/call-hooks.js';
export { debounce, type Debounced } from './registry/debounce.js';
export { SnapshotStore, configSnapshotDelayMs } from './registry/snapshot-store.js';
export { SnapshotStandIn } from './registry/snapshot-stand-in.js';
export { DeadlineTimer, type DeadlineEntry } from './deadline-timer.js';
export { advertisedHost } from './server/advertised-host.js';
export { ConnectionHealthView } from './client/connection-health-view.js';
export { HealthRouter } from './client/health-router.js';
