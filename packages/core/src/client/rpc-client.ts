import { container as rootContainer, type DependencyContainer } from 'tsyringe';
import type { LoadBalancer, LoadBalancerFactory } from '../balancer/load-balancer.js';
import { RoundRobinBalancer } from '../balancer/round-robin.js';
import { WeightedRandomBalancer } from '../balancer/weighted-random.js';
import { systemClock, type Clock } from '../clock.js';
import { describeMethods, isStreamKind, type MethodDescriptor, type ServiceDefinition } from '../definition.js';
import type { Endpoint } from '../endpoint.js';
import { Code, ErrorCodes, RpcError, TrellisError, invalidOption } from '../errors.js';
import type { HealthView } from '../health.js';
import {
  CallInvocation, composeEndpointInterceptors, EMPTY_SET, type EndpointInterceptor, type Invocation, type RequestDefaults, type Result,
} from '../invocation.js';
import { FixedMetadata, MetadataKeys, NO_METADATA, type Metadata } from '../metadata.js';
import { rejectUnknownKeys } from '../options.js';
import { Inspectors, type Inspection } from '../inspection.js';
import { checkPlugin, type ClientPluginContext, type Plugin } from '../plugin.js';
import { StaticRegistry, type StaticEndpoint } from '../registry/static-registry.js';
import type { Registry } from '../registry.js';
import type { Router } from '../router.js';
import { advertisedHost } from '../server/advertised-host.js';
import { formatServiceKey, serviceKey, type ServiceKey } from '../service-key.js';
import { TOKENS } from '../tokens.js';
import type { ClientTransport } from '../transport.js';
import { TcpClientTransport, type TcpClientOptions } from '../transport/tcp-client-transport.js';
import { KERNEL_VERSION } from '../version.js';
import type { CallGate } from '../gate.js';
import type { RetryPolicy } from '../retry-policy.js';
import type { GateEntry } from './gate-lists.js';
import { CallPipeline } from './call-pipeline.js';
import { composeChains, type InterceptorEntry } from './chains.js';
import { CallContext, Observers } from './call-state.js';
import { callOptionsProblem, isTimeoutMs, METADATA_KEY, requestMetadata, TIMEOUT_EXPECTED, type CallOptions } from './call-options.js';
import { ConnectionHealthView } from './connection-health-view.js';
import { Directory } from './directory.js';
import { HealthRouter } from './health-router.js';
import { CallResponseStream } from './stream-call.js';
import type { ResponseStream } from '../stream.js';
import { TransportSelector } from './transport-selector.js';

export interface MethodSettings {
  readonly idempotent?: boolean;
  readonly timeoutMs?: number;
}

export interface RpcClientOptions {
  readonly service: ServiceDefinition;
  /** Where providers are discovered. Give this or `addresses`. */
  readonly registry?: Registry;
  /** Shortcut for a StaticRegistry: `['127.0.0.1:50051', …]`. */
  readonly addresses?: readonly (string | StaticEndpoint)[];
  readonly group?: string;
  /** Semver range of acceptable provider versions (default `*`). */
  readonly version?: string;
  /** Default deadline per call (default 5000 ms). */
  readonly timeoutMs?: number;
  /** `round-robin` (default), `random`, a name a plugin added (`lalb`), or an instance. */
  readonly loadBalancer?: string | LoadBalancer;
  readonly methods?: Readonly<Record<string, MethodSettings>>;
  readonly plugins?: readonly Plugin[];
  readonly transport?: ClientTransport;
  /**
   * A transport per protocol (issue #19), instead of `transport`: `{ grpc: new GrpcClientTransport() }`
   * (the native `trellis` one is built when left out). Each endpoint is called through the first of
   * `protocols` it serves, per its instance document (`grpc://` / `grpcs://` addresses serve gRPC only).
   */
  readonly transports?: Readonly<Record<string, ClientTransport>>;
  /** Preference order over `transports` (default: `trellis` first, then the others as listed). */
  readonly protocols?: readonly string[];
  /** Options for the default TCP transport (connections per endpoint, dial timeout, backoff, limits). */
  readonly tcp?: TcpClientOptions;
  /**
   * Calls refused before they ran (connection refused, GOAWAY) are re-sent to another endpoint this many
   * times, within the deadline — gRPC's transparent retry. Policy retries are the retry plugin's job.
   */
  readonly transparentRetries?: number;
  /** This consumer's address, for IP routing rules (default: the machine's first IPv4). */
  readonly localAddress?: string;
  /** This consumer's own service name, sent as `trellis-caller` metadata. */
  readonly caller?: string;
  readonly container?: DependencyContainer;
  readonly clock?: Clock;
}

const CLIENT_OPTION_KEYS: readonly (keyof RpcClientOptions)[] = [
  'service', 'registry', 'addresses', 'group', 'version', 'timeoutMs', 'loadBalancer', 'methods', 'plugins', 'transport', 'transports', 'protocols', 'tcp',
  'transparentRetries', 'localAddress', 'caller', 'container', 'clock',
];

type Stub<T> = T;

/**
 * A consumer of one service. The call path is fixed (docs/architecture.md): observers' callStart →
 * gates and cluster interceptors by InterceptorOrder (breaker → retry → rules gate → auth → user;
 * with no unary interceptor the pipeline runs the gates and the retry policy itself) → directory
 * (discovery, version filter) → routers by RouterOrder → load balancer → observers' attemptStart →
 * endpoint interceptors by EndpointInterceptorOrder → codec + transport → attemptEnd, Pick.done →
 * (transparent re-send) → callEnd.
 */
export class RpcClient {
  readonly service: ServiceKey;
  readonly definition: ServiceDefinition;
  readonly registry: Registry;
  readonly transport: ClientTransport;
  readonly container: DependencyContainer;
  private readonly clock: Clock;
  private readonly versionRange: string;
  private readonly methods: Map<string, MethodDescriptor>;
  private readonly timeoutMs: number;
  private readonly transparentRetries: number;
  private readonly directory: Directory;
  private readonly plugins: Plugin[] = [];
  private readonly pluginNames = new Set<string>();
  private readonly interceptors: InterceptorEntry[] = [];
  private readonly gates: GateEntry[] = [];
  private retryPolicy: RetryPolicy | undefined;
  private readonly endpointInterceptors: { interceptor: EndpointInterceptor; order: number }[] = [];
  private readonly observers = new Observers();
  private readonly pipeline: CallPipeline;
  /** Every router plugins added, and whether it is active (`setHookActive`). */
  private readonly routers: { readonly router: Router; active: boolean }[] = [];
  private readonly healthRouter = new HealthRouter(() => this.health);
  /** Per observer, router or gate object, its switches (`setHookActive`). */
  private readonly switches = new Map<object, ((active: boolean) => void)[]>();
  private readonly balancers = new Map<string, LoadBalancerFactory>();
  private readonly closeHooks: (() => unknown)[] = [];
  private readonly inspectors = new Inspectors();
  private readonly defaultHealth: ConnectionHealthView;
  private readonly localAddress: string;
  /** The fixed request metadata every call carries (the `caller` option, `addRequestMetadata`). */
  private readonly requestDefaults: RequestDefaults = { metadata: NO_METADATA };
  private health: HealthView;
  private balancer: LoadBalancer | undefined;
  private starting: Promise<void> | undefined;
  private started = false;
  private closed = false;

  constructor(private readonly options: RpcClientOptions) {
    if (typeof options !== 'object' || options === null || typeof options.service?.name !== 'string') {
      throw invalidOption('service', options?.service, 'a ServiceDefinition (load one with @trellis/codec-protobuf)');
    }
    rejectUnknownKeys('RpcClient', options, CLIENT_OPTION_KEYS);
    if (options.registry && options.addresses) {
      throw invalidOption('addresses', options.addresses, 'nothing when `registry` is given (choose one)');
    }
    if (!options.registry && !options.addresses) {
      throw invalidOption('registry', undefined, 'a Registry, or `addresses` for a fixed list of providers');
    }
    this.timeoutMs = options.timeoutMs ?? 5000;
    if (!isTimeoutMs(this.timeoutMs)) throw invalidOption('timeoutMs', options.timeoutMs, TIMEOUT_EXPECTED);
    this.transparentRetries = options.transparentRetries ?? 3;
    if (!(Number.isInteger(this.transparentRetries) && this.transparentRetries >= 0)) {
      throw invalidOption('transparentRetries', options.transparentRetries, 'an integer ≥ 0');
    }
    for (const name of ['group', 'version', 'caller', 'localAddress'] as const) {
      if (options[name] !== undefined && typeof options[name] !== 'string') throw invalidOption(name, options[name], 'a string');
    }
    this.definition = options.service;
    this.versionRange = options.version ?? '*';
    // A consumer's key carries the version *range* it asked for; providers publish exact versions.
    this.service = { ...serviceKey(options.service.name, { group: options.group }), version: this.versionRange };
    this.clock = options.clock ?? systemClock;
    this.registry = options.registry ?? new StaticRegistry(options.addresses!);
    this.transport = this.buildTransport(options);
    this.container = (options.container ?? rootContainer).createChildContainer();
    this.container.register(TOKENS.Registry, { useValue: this.registry });
    this.container.register(TOKENS.Clock, { useValue: this.clock });
    this.container.register(TOKENS.ClientTransport, { useValue: this.transport });
    this.methods = this.describe(options.methods ?? {});
    this.directory = new Directory({ group: this.service.group, name: this.service.name }, this.versionRange);
    this.defaultHealth = new ConnectionHealthView(this.transport);
    this.health = this.defaultHealth;
    this.localAddress = options.localAddress ?? advertisedHost('0.0.0.0');
    if (options.caller !== undefined) this.addRequestMetadata(MetadataKeys.CALLER, options.caller);
    this.pipeline = new CallPipeline({
      service: this.service,
      clock: this.clock,
      transport: this.transport,
      directory: this.directory,
      observers: this.observers,
      registryName: this.registry.name,
      transparentRetries: this.transparentRetries,
      health: () => this.health,
      // Only the native transport the client built on its own clock: a given transport (or one under
      // `transports`) may keep another clock, whose readings would not compare with the call's start.
      transportOnClientClock: options.transport === undefined && options.transports === undefined && this.nativeOptions().clock === this.clock,
    });
    this.balancers.set('round-robin', () => new RoundRobinBalancer());
    this.balancers.set('random', () => new WeightedRandomBalancer());
    for (const plugin of options.plugins ?? []) this.use(plugin);
  }

  use(plugin: Plugin): this {
    if (this.starting) {
      throw new TrellisError(ErrorCodes.PLUGIN_AFTER_START, `plugin ${plugin?.meta?.name} was registered after the client started; call use() before the first call or start()`);
    }
    checkPlugin(plugin, 'client', this.pluginNames);
    this.pluginNames.add(plugin.meta.name);
    this.plugins.push(plugin);
    return this;
  }

  /** Runs plugin hooks and subscribes to the registry. Called by the first call if not before. */
  start(): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError());
    this.starting ??= this.doStart();
    return this.starting;
  }

  private closedError(): TrellisError {
    return new TrellisError(ErrorCodes.CLIENT_CLOSED, `the client of ${this.definition.name} is closed; calls after close() are refused (create a new RpcClient)`);
  }

  /**
   * Starts the client and waits until the registry delivered a provider list with at least
   * `minEndpoints` entries; rejects UNAVAILABLE after `timeoutMs`.
   */
  async waitForReady(options: { timeoutMs?: number; minEndpoints?: number } = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const min = options.minEndpoints ?? 1;
    if (!isTimeoutMs(timeoutMs)) throw invalidOption('timeoutMs', options.timeoutMs, TIMEOUT_EXPECTED);
    if (!(Number.isInteger(min) && min >= 1)) throw invalidOption('minEndpoints', options.minEndpoints, 'an integer ≥ 1');
    await this.start();
    const until = this.clock.now() + timeoutMs;
    await this.directory.waitResolved(timeoutMs);
    while (this.directory.endpoints.length < min && this.clock.now() < until) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.max(1, until - this.clock.now()));
        const subscription = this.directory.onChange(() => done());
        function done() {
          clearTimeout(timer);
          subscription.dispose();
          resolve();
        }
      });
    }
    if (this.directory.endpoints.length < min) {
      throw new RpcError(Code.UNAVAILABLE, `${formatServiceKey(this.service)}: ${this.directory.endpoints.length} of ${min} providers discovered within ${timeoutMs} ms`, { mayHaveRun: false });
    }
  }

  /** The endpoints discovered (after the version filter). */
  get endpoints(): readonly Endpoint[] {
    return this.directory.endpoints;
  }

  get healthView(): HealthView {
    return this.health;
  }

  /**
   * A typed client whose methods are the service's methods (both `sayHello` and `SayHello`). Per
   * kind: unary `(request, options) → Promise<Res>`; server-streaming `(request, options) →
   * ResponseStream<Res>`; client-streaming `(requests, options) → Promise<Res>`; bidi-streaming
   * `(requests, options) → ResponseStream<Res>` (`trellis-proto-gen` writes these types).
   */
  stub<T = Record<string, (request: unknown, options?: CallOptions) => Promise<unknown>>>(): Stub<T> {
    const stub: Record<string, unknown> = {};
    for (const method of this.methods.values()) {
      let fn: (request: unknown, options?: CallOptions) => unknown;
      if (method.kind === 'client-streaming') fn = (requests, options) => singleResponse(this.openStream(method, requests, options));
      else if (isStreamKind(method.kind)) fn = (request, options) => this.openStream(method, request, options);
      else fn = (request, options) => this.call(method, request, options);
      stub[method.localName] = fn;
      stub[method.name] = fn;
    }
    return stub as T;
  }

  /**
   * Calls a method by name and resolves with the response message. A client-streaming method takes
   * the iterable of requests; server- and bidi-streaming methods are called with `stream()`.
   */
  invoke(methodName: string, request: unknown, options?: CallOptions): Promise<unknown> {
    const method = this.methods.get(methodName) ?? [...this.methods.values()].find((m) => m.localName === methodName);
    if (method === undefined) {
      return Promise.reject(new RpcError(Code.UNIMPLEMENTED, `${this.definition.name} has no method ${methodName}`, { mayHaveRun: false }));
    }
    if (method.kind === 'client-streaming') return singleResponse(this.openStream(method, request, options));
    if (isStreamKind(method.kind)) {
      return Promise.reject(new RpcError(Code.INVALID_ARGUMENT, `${this.definition.name}/${method.name} is ${method.kind}: call it with stream() (or the stub), which returns the responses as an async iterable`, { mayHaveRun: false }));
    }
    return this.call(method, request, options);
  }

  /**
   * Opens a stream call by method name (any stream kind): `request` is the request message
   * (server-streaming) or an (async) iterable of them (client, bidi). The responses, headers and
   * trailers are on the returned ResponseStream; a unary method is refused on its first read.
   */
  stream(methodName: string, request: unknown, options?: CallOptions): ResponseStream {
    const method = this.methods.get(methodName) ?? [...this.methods.values()].find((m) => m.localName === methodName);
    if (method === undefined) {
      return failedStream(new RpcError(Code.UNIMPLEMENTED, `${this.definition.name} has no method ${methodName}`, { mayHaveRun: false }));
    }
    if (!isStreamKind(method.kind)) {
      return failedStream(new RpcError(Code.INVALID_ARGUMENT, `${this.definition.name}/${method.name} is unary: call it with invoke() (or the stub)`, { mayHaveRun: false }));
    }
    return this.openStream(method, request, options);
  }

  /** Like invoke, with the response metadata and the endpoint that answered. */
  invokeWithResult(methodName: string, request: unknown, options?: CallOptions): Promise<Result> {
    const method = this.methods.get(methodName) ?? [...this.methods.values()].find((m) => m.localName === methodName);
    if (method === undefined) {
      return Promise.reject(new RpcError(Code.UNIMPLEMENTED, `${this.definition.name} has no method ${methodName}`, { mayHaveRun: false }));
    }
    if (isStreamKind(method.kind)) {
      return Promise.reject(new RpcError(Code.INVALID_ARGUMENT, `${this.definition.name}/${method.name} is ${method.kind}: call it with stream(), whose ResponseStream has the headers, trailers and endpoint`, { mayHaveRun: false }));
    }
    return this.call(method, request, options, true) as Promise<Result>;
  }

  /** A read-out for operators: endpoints with their connection and health state, the balancer, every plugin inspector. */
  inspect(): Inspection {
    const health = this.health;
    return {
      side: 'client',
      plugins: this.plugins.map((plugin) => ({ name: plugin.meta.name, kernel: plugin.meta.kernel })),
      kernel: {
        service: this.service,
        registry: this.registry.name,
        started: this.started,
        closed: this.closed,
        timeoutMs: this.timeoutMs,
        methods: [...this.methods.values()].map((method) => ({ name: method.name, idempotent: method.idempotent })),
        balancer: this.balancer === undefined ? undefined : { name: this.balancer.name, snapshot: this.balancer.snapshot?.() },
        endpoints: this.directory.endpoints.map((endpoint) => ({
          id: endpoint.id,
          host: endpoint.host,
          port: endpoint.port,
          weight: endpoint.weight,
          version: endpoint.version,
          tags: endpoint.tags,
          zone: endpoint.zone,
          protocol: endpoint.protocol,
          connection: this.transport.state(endpoint),
          health: health.state(endpoint),
        })),
      },
      inspectors: this.inspectors.take(),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.directory.close();
    for (const hook of this.closeHooks.reverse()) {
      try {
        await hook();
      } catch { /* closing goes on */ }
    }
    this.defaultHealth.dispose();
    // Given transports belong to the caller; the selector closes only the one it built.
    if (!this.options.transport) await this.transport.close();
    if (!this.options.registry) await this.registry.close();
  }

  private call(method: MethodDescriptor, request: unknown, options: CallOptions | undefined, withResult = false): Promise<unknown> {
    const invocation = this.invocationOf(method, request, options, options?.signal);
    if (invocation instanceof Error) return Promise.reject(invocation);
    if (!this.started || !this.directory.resolved) return this.slowStart(invocation, withResult);
    return this.pipeline.run(invocation, withResult);
  }

  /**
   * A stream call: its ResponseStream at once, the set-up running behind it. The call's signal is
   * the caller's combined with the stream's own, so `cancel()` before set-up aborts the opening.
   */
  private openStream(method: MethodDescriptor, request: unknown, options: CallOptions | undefined): ResponseStream {
    const own = new AbortController();
    const signal = options?.signal === undefined || !(options.signal instanceof AbortSignal) ? own.signal : AbortSignal.any([options.signal, own.signal]);
    const abort = (reason: string) => own.abort(new RpcError(Code.CANCELLED, reason));
    const invocation = this.invocationOf(method, request, options, signal);
    if (invocation instanceof Error) return failedStream(invocation);
    const setUp = !this.started || !this.directory.resolved
      ? this.whenReady(invocation).then(() => this.pipeline.runStream(invocation))
      : this.pipeline.runStream(invocation);
    return new CallResponseStream(setUp, abort);
  }

  /** The invocation of one call, or the error to refuse it with (options, closed client, cancelled). */
  private invocationOf(method: MethodDescriptor, request: unknown, options: CallOptions | undefined, signal: AbortSignal | undefined): Invocation | Error {
    if (this.closed) return this.closedError();
    // Created when somebody reads invocation.metadata (CallInvocation), unless options give some.
    let metadata: Metadata | undefined;
    if (options !== undefined) {
      const problem = callOptionsProblem(options);
      if (problem !== undefined) return problem;
      try {
        if (options.metadata !== undefined) metadata = requestMetadata(options.metadata);
      } catch (error) {
        return error as Error;
      }
    }
    const timeoutMs = options?.timeoutMs ?? (method.options.timeoutMs as number | undefined) ?? this.timeoutMs;
    // The call's one clock reading: its deadline, its start for observers, and its first send.
    const now = this.clock.now();
    const invocation: Invocation = new CallInvocation(
      this.service,
      options?.idempotent === undefined ? method : { ...method, idempotent: options.idempotent },
      request,
      metadata,
      now + timeoutMs,
      signal,
      1,
      EMPTY_SET,
      new CallContext(now),
      this.requestDefaults,
    );
    if (invocation.signal?.aborted) return new RpcError(Code.CANCELLED, 'call cancelled before it started', { mayHaveRun: false });
    return invocation;
  }

  private async whenReady(invocation: Invocation): Promise<void> {
    await this.start();
    if (!this.directory.resolved) await this.directory.waitResolved(invocation.deadline - this.clock.now());
    if (!this.directory.resolved) {
      throw new RpcError(Code.UNAVAILABLE, `no provider list for ${formatServiceKey(this.service)} arrived from the ${this.registry.name} registry before the deadline`, { mayHaveRun: false });
    }
  }

  private async slowStart(invocation: Invocation, withResult: boolean): Promise<unknown> {
    await this.whenReady(invocation);
    return this.pipeline.run(invocation, withResult, true);
  }

  private async doStart(): Promise<void> {
    const context = this.pluginContext();
    for (const plugin of this.plugins) await plugin.setupClient!(context);
    this.endpointInterceptors.sort((a, b) => a.order - b.order);
    const pipeline = this.pipeline;
    let balancer = this.balancer;
    if (balancer === undefined) {
      const choice = this.options.loadBalancer ?? 'round-robin';
      if (typeof choice === 'string') {
        const factory = this.balancers.get(choice);
        if (factory === undefined) {
          throw new TrellisError(ErrorCodes.UNKNOWN_LOAD_BALANCER, `load balancer "${choice}" is unknown; known: ${[...this.balancers.keys()].join(', ')} (plugins add more, e.g. @trellis/lb-lalb)`);
        }
        balancer = factory();
      } else {
        balancer = choice;
      }
      this.balancer = balancer;
    }
    pipeline.configure({
      // Without interceptors the pipeline settles the caller's promise itself (no chain of promises).
      ...composeChains(this.interceptors, this.gates, (invocation) => this.observers.of(invocation).activeGates, this.retryPolicy, this.clock, pipeline.invokeCluster),
      endpointChain: this.endpointInterceptors.length === 0
        ? undefined
        : composeEndpointInterceptors(this.endpointInterceptors.map((i) => i.interceptor), pipeline.endpointBottom),
      routers: this.activeRouters(),
      balancer,
    });
    this.directory.onChange((endpoints) => this.transport.retain(endpoints));
    this.directory.start(this.registry);
    this.started = true;
  }

  /** Where `setHookActive` turns `hook`'s parts on and off (an object may be an observer and a router). */
  private addSwitch(hook: object, setActive: (active: boolean) => void): void {
    const switches = this.switches.get(hook);
    if (switches === undefined) this.switches.set(hook, [setActive]);
    else switches.push(setActive);
  }

  /** The routers a call runs: the kernel's health filter and the active plugin routers, by order. */
  private activeRouters(): Router[] {
    const active = this.routers.filter((r) => r.active).map((r) => r.router);
    return [this.healthRouter, ...active].sort((a, b) => a.order - b.order);
  }

  /** The native TCP transport's options: the client's clock unless `tcp` gives one. */
  private nativeOptions(): TcpClientOptions {
    const tcp = { clock: this.clock, ...this.options.tcp };
    return { ...tcp, clock: tcp.clock ?? systemClock };
  }

  /** `transport`, a selector over `transports`, or the native TCP transport. */
  private buildTransport(options: RpcClientOptions): ClientTransport {
    const native = () => new TcpClientTransport(this.nativeOptions());
    if (options.transports === undefined) {
      if (options.protocols !== undefined) throw invalidOption('protocols', options.protocols, 'nothing without `transports`');
      const grpcOnly = options.addresses?.find((a) => typeof a === 'string' && /^grpcs?:\/\//.test(a));
      if (grpcOnly !== undefined && options.transport === undefined) {
        throw invalidOption('addresses', grpcOnly, 'host:port addresses, or `transports: { grpc: new GrpcClientTransport() }` (@trellis/transport-grpc) to call grpc:// ones');
      }
      return options.transport ?? native();
    }
    if (options.transport !== undefined) throw invalidOption('transport', options.transport, 'nothing when `transports` is given');
    if (typeof options.transports !== 'object' || options.transports === null) throw invalidOption('transports', options.transports, 'an object { protocol: ClientTransport }');
    for (const [protocol, transport] of Object.entries(options.transports)) {
      if (typeof (transport as Partial<ClientTransport>)?.call !== 'function') throw invalidOption(`transports.${protocol}`, transport, 'a ClientTransport');
    }
    const names = Object.keys(options.transports);
    const protocols = options.protocols ?? ['trellis', ...names.filter((n) => n !== 'trellis')];
    if (!Array.isArray(protocols) || protocols.length === 0 || protocols.some((p) => typeof p !== 'string')) {
      throw invalidOption('protocols', options.protocols, "a non-empty array of protocol names, e.g. ['trellis', 'grpc']");
    }
    const transports: Record<string, ClientTransport> = { ...options.transports };
    const owned: ClientTransport[] = [];
    if (protocols.includes('trellis') && transports.trellis === undefined) owned.push((transports.trellis = native()));
    return new TransportSelector(transports, protocols, owned);
  }

  private describe(settings: Readonly<Record<string, MethodSettings>>): Map<string, MethodDescriptor> {
    const methods = describeMethods(this.definition);
    for (const [name, setting] of Object.entries(settings)) {
      const method = methods.get(name) ?? [...methods.values()].find((m) => m.localName === name);
      if (method === undefined) {
        throw invalidOption(`methods.${name}`, setting, `a method of ${this.definition.name} (${[...methods.keys()].join(', ')})`);
      }
      if (typeof setting !== 'object' || setting === null) throw invalidOption(`methods.${name}`, setting, 'an object { idempotent, timeoutMs }');
      rejectUnknownKeys('method', setting, ['idempotent', 'timeoutMs'], `methods.${name}.`);
      if (setting.timeoutMs !== undefined && !isTimeoutMs(setting.timeoutMs)) throw invalidOption(`methods.${name}.timeoutMs`, setting.timeoutMs, TIMEOUT_EXPECTED);
      if (setting.idempotent !== undefined && typeof setting.idempotent !== 'boolean') throw invalidOption(`methods.${name}.idempotent`, setting.idempotent, 'true or false');
      methods.set(method.name, {
        ...method,
        idempotent: setting.idempotent ?? method.idempotent,
        options: setting.timeoutMs === undefined ? method.options : { ...method.options, timeoutMs: setting.timeoutMs },
      });
    }
    return methods;
  }

  /** One more fixed entry: the client's calls share a new read-only map (set-up time only, never per call). */
  private addRequestMetadata(key: string, value: string): void {
    this.requestDefaults.metadata = new FixedMetadata([...this.requestDefaults.metadata, [key, value]]);
  }

  private pluginContext(): ClientPluginContext {
    const health = (): HealthView => this.health;
    return {
      side: 'client',
      kernelVersion: KERNEL_VERSION,
      container: this.container,
      clock: this.clock,
      registry: this.registry,
      service: this.service,
      definition: this.definition,
      transport: this.transport,
      get health() {
        return health();
      },
      localAddress: this.localAddress,
      onClose: (fn) => this.closeHooks.push(fn),
      addInspector: (name, snapshot) => this.inspectors.add(name, snapshot),
      inspect: () => this.inspect(),
      addInterceptor: (interceptor, order, calls = 'all') => {
        if (calls !== 'all' && calls !== 'unary' && calls !== 'streams') throw invalidOption('addInterceptor calls', calls, "'all', 'unary' or 'streams'");
        this.interceptors.push({ interceptor, order, calls });
      },
      addGate: (gate, order) => {
        if (typeof gate?.beforeCall !== 'function') throw invalidOption('addGate gate', gate, 'an object with beforeCall(invocation, state)');
        // A gate is an observer with a gate part: `setHookActive` switches both (its calls' gate lists
        // are kept with the observers' hooks, HookLists).
        const callGate = gate as CallGate;
        let entry: GateEntry | undefined;
        const { setActive } = this.observers.add(callGate, (index) => (entry = { gate: callGate, beforeCall: callGate.beforeCall, order, index }));
        this.gates.push(entry!);
        this.addSwitch(gate, setActive);
      },
      addRequestMetadata: (key, value) => {
        if (typeof key !== 'string' || !METADATA_KEY.test(key) || key.startsWith('trellis-')) {
          throw invalidOption('addRequestMetadata key', key, 'a lower-case metadata key (0-9 a-z _ . -) outside the kernel\'s trellis- keys');
        }
        if (typeof value !== 'string') throw invalidOption(`addRequestMetadata "${key}" value`, value, 'a string');
        this.addRequestMetadata(key, value);
      },
      setRetryPolicy: (policy) => {
        if (this.retryPolicy !== undefined) throw new TrellisError(ErrorCodes.PLUGIN_INVALID, 'a client has one retry policy; another plugin already set one');
        this.retryPolicy = policy as RetryPolicy;
      },
      addEndpointInterceptor: (interceptor, order) => this.endpointInterceptors.push({ interceptor, order }),
      observe: (observer) => this.addSwitch(observer, this.observers.add(observer as never).setActive),
      addRouter: (router) => {
        if (typeof router?.route !== 'function') throw invalidOption('addRouter router', router, 'an object with name, order and route(list, invocation)');
        const entry = { router, active: true };
        this.routers.push(entry);
        this.addSwitch(router, (active) => {
          if (entry.active === active) return;
          entry.active = active;
          this.pipeline.setRouters(this.activeRouters()); // (before the start: configure reads them)
        });
      },
      setHookActive: (hook, active) => {
        const switches = this.switches.get(hook);
        if (switches === undefined) throw invalidOption('setHookActive hook', hook, 'an observer, router or gate registered on this client (observe, addRouter, addGate)');
        if (typeof active !== 'boolean') throw invalidOption('setHookActive active', active, 'true or false');
        for (const setActive of switches) setActive(active);
      },
      addLoadBalancer: (name, factory) => this.balancers.set(name, factory),
      setLoadBalancer: (balancer) => (this.balancer = balancer),
      setHealthView: (view) => {
        this.health = view;
        this.container.register(TOKENS.HealthView, { useValue: view });
      },
      onEndpoints: (listener) => {
        const subscription = this.directory.onChange(listener);
        if (this.directory.resolved) listener(this.directory.endpoints);
        return subscription;
      },
    };
  }
}

/** A ResponseStream that failed before it started (bad options, unknown method, closed client). */
function failedStream(error: Error): ResponseStream {
  return new CallResponseStream(Promise.reject(error), () => undefined);
}

/**
 * Client-streaming's answer: the stream's one response message, after the end of the stream
 * (its OK status) — a server that sends none or more than one is an INTERNAL error.
 */
async function singleResponse(stream: ResponseStream): Promise<unknown> {
  const iterator = stream[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done === true) throw new RpcError(Code.INTERNAL, 'the server ended a client-streaming call without a response message');
  const end = await iterator.next();
  if (end.done !== true) {
    await iterator.return?.();
    throw new RpcError(Code.INTERNAL, 'the server sent more than one response message for a client-streaming call');
  }
  return first.value;
}
