import 'reflect-metadata';

export { Code, RpcError, TrellisError, ErrorCodes, notExecuted, invalidOption, InvalidOptionError, type RpcErrorOptions } from './errors.js';
export { DEFAULT_FAILURE_CODES, isFailure, failurePredicate, parseCode, parseCodes, type FailurePredicate } from './failure.js';
export { createMetadata, MetadataKeys, type Metadata } from './metadata.js';
export { createContextKey, ContextValues, type ContextKey } from './context-key.js';
export { serviceKey, formatServiceKey, DEFAULT_GROUP, DEFAULT_VERSION, type ServiceKey } from './service-key.js';
export { MAX_TIMEOUT_MS, type CallOptions } from './client/call-options.js';
export type { MessageCodec, MethodDefinition, MethodDescriptor, MethodKind, ServiceDefinition } from './definition.js';
export { methodKind, isStreamKind } from './definition.js';
export type {
  ResponseStream, RequestStream, UnaryCall, ServerStreamingCall, ClientStreamingCall, BidiStreamingCall,
  ServerStreamingHandler, ClientStreamingHandler, BidiStreamingHandler,
} from './stream.js';
export type { Endpoint, InstanceInfo, MethodTraits, ProtocolPort, ProtocolPorts } from './endpoint.js';
export type { Registry, ConfigSource, Disposable, ServiceQuery } from './registry.js';
export { MemoryRegistry } from './registry/memory-registry.js';
export { StaticRegistry, type StaticEndpoint } from './registry/static-registry.js';
export { RoundRobinBalancer } from './balancer/round-robin.js';
export { WeightedRandomBalancer } from './balancer/weighted-random.js';
export type { LoadBalancer, Pick, PickOutcome } from './balancer/load-balancer.js';
export type { Router } from './router.js';
export type { Invocation, Interceptor, EndpointInterceptor, Result, Invoker } from './invocation.js';
export { InterceptorOrder, EndpointInterceptorOrder } from './invocation.js';
export type { Attempt, CallEnd, CallObserver, StreamStats } from './observer.js';
export type { CallGate } from './gate.js';
export type { RetryPolicy, InterceptedCalls } from './retry-policy.js';
export type { ServerInvocation, ServerInterceptor } from './server/server-invocation.js';
export { ServerInterceptorOrder } from './server/server-invocation.js';
export type { ServerCallEnd, ServerCallObserver, ServerGate } from './server-observer.js';
export type { Plugin, PluginMeta, ClientPluginContext, ServerPluginContext, PrimaryPluginContext } from './plugin.js';
export { definePlugin } from './plugin.js';
export type { Inspection } from './inspection.js';
export type { HealthView, EndpointState, EndpointStateChange } from './health.js';
export { TOKENS } from './tokens.js';
export { KERNEL_VERSION } from './version.js';
export { RpcClient, type RpcClientOptions, type MethodSettings } from './client/rpc-client.js';
export { provideReferences, type ProvideReferencesOptions, type ReferenceSet } from './client/references.js';
export { RpcServer, type RpcServerOptions, type CloseOptions, type ReloadOptions } from './server/rpc-server.js';
export type { ListenerOptions, ListenerAddress } from './server/listener-set.js';
export type { WorkersOptions, WorkerInfo, WorkerInspection, WorkerEvent, WorkerState } from './server/workers/worker-options.js';
export { HandlerError } from './server/error-redaction.js';
export {
  RpcService, RpcMethod, RpcReference, referenceToken,
  type RpcServiceOptions, type RpcMethodOptions, type RpcReferenceOptions,
} from './decorators.js';
export type {
  StreamKind, OutboundStream, ClientStream, InboundStream, ServerStreamExchange, StreamHandler, BufferedMessages,
} from './transport-stream.js';
export { TcpClientTransport, type TcpClientOptions } from './transport/tcp-client-transport.js';
export { TcpServerTransport, type TcpServerOptions } from './transport/tcp-server-transport.js';
export { ExponentialBackoff, type BackoffOptions } from './backoff.js';
