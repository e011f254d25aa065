import { container as rootContainer, type DependencyContainer } from 'tsyringe';
import type { LoadBalancer, LoadBalancerFactory, Pick } from '../balancer/load-balancer.js';
import { RoundRobinBalancer } from '../balancer/round-robin.js';
import { WeightedRandomBalancer } from '../balancer/weighted-random.js';
import { systemClock, type Clock } from '../clock.js';
import { ContextValues } from '../context-key.js';
import { describeMethods, type MethodDescriptor, type ServiceDefinition } from '../definition.js';
import type { Endpoint } from '../endpoint.js';
import { Code, ErrorCodes, RpcError, TrellisError, invalidOption } from '../errors.js';
import type { HealthView } from '../health.js';
import {
  composeEndpointInterceptors, composeInterceptors, EMPTY_SET, type EndpointInterceptor, type EndpointInvoker,
  type Interceptor, type Invocation, type Invoker, type Result,
} from '../invocation.js';
import { MetadataKeys, type Metadata } from '../metadata.js';
import { rejectUnknownKeys } from '../options.js';
import { checkPlugin, type ClientPluginContext, type Plugin } from '../plugin.js';
import { StaticRegistry, type StaticEndpoint } from '../registry/static-registry.js';
import type { Registry } from '../registry.js';
import type { Router } from '../router.js';
import { advertisedHost } from '../server/advertised-host.js';
import { formatServiceKey, serviceKey, type ServiceKey } from '../service-key.js';
import { TOKENS } from '../tokens.js';
import type { ClientTransport, InboundResponse } from '../transport.js';
import { TcpClientTransport, type TcpClientOptions } from '../transport/tcp-client-transport.js';
import { KERNEL_VERSION } from '../version.js';
import { callOptionsProblem, isTimeoutMs, requestMetadata, TIMEOUT_EXPECTED, type CallOptions } from './call-options.js';
import { ConnectionHealthView } from './connection-health-view.js';
import { Directory } from './directory.js';
import { HealthRouter } from './health-router.js';

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
  'service', 'registry', 'addresses', 'group', 'version', 'timeoutMs', 'loadBalancer', 'methods', 'plugins', 'transport', 'tcp',
  'transparentRetries', 'localAddress', 'caller', 'container', 'clock',
];

type Stub<T> = T;

/**
 * A consumer of one service. The call path is fixed (DESIGN.md §3): cluster interceptors (tracing →
 * metrics → breaker → retry → user) → directory (discovery → health → routers) → load balancer → endpoint
 * interceptors → codec + transport.
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
  private readonly interceptors: { interceptor: Interceptor; order: number }[] = [];
  private readonly endpointInterceptors: { interceptor: EndpointInterceptor; order: number }[] = [];
  private readonly routers: Router[] = [];
  private readonly balancers = new Map<string, LoadBalancerFactory>();
  private readonly closeHooks: (() => unknown)[] = [];
  private readonly defaultHealth: ConnectionHealthView;
  private readonly localAddress: string;
  private readonly callerName: string | undefined;
  private health: HealthView;
  private balancer: LoadBalancer | undefined;
  private chain: Invoker = (inv) => this.invokeCluster(inv);
  private endpointChain: EndpointInvoker = (inv, endpoint) => this.send(inv, endpoint);
  private routerList: Router[] = [];
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
    this.transport = options.transport ?? new TcpClientTransport({ clock: this.clock, ...options.tcp });
    this.container = (options.container ?? rootContainer).createChildContainer();
    this.container.register(TOKENS.Registry, { useValue: this.registry });
    this.container.register(TOKENS.Clock, { useValue: this.clock });
    this.container.register(TOKENS.ClientTransport, { useValue: this.transport });
    this.methods = this.describe(options.methods ?? {});
    this.directory = new Directory({ group: this.service.group, name: this.service.name }, this.versionRange);
    this.defaultHealth = new ConnectionHealthView(this.transport);
    this.health = this.defaultHealth;
    this.localAddress = options.localAddress ?? advertisedHost('0.0.0.0');
    this.callerName = options.caller;
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

  /** A typed client whose methods are the service's methods (both `sayHello` and `SayHello`). */
  stub<T = Record<string, (request: unknown, options?: CallOptions) => Promise<unknown>>>(): Stub<T> {
    const stub: Record<string, unknown> = {};
    for (const method of this.methods.values()) {
      const fn = (request: unknown, options?: CallOptions) => this.call(method, request, options);
      stub[method.localName] = fn;
      stub[method.name] = fn;
    }
    return stub as T;
  }

  /** Calls a method by name and resolves with the response message. */
  invoke(methodName: string, request: unknown, options?: CallOptions): Promise<unknown> {
    const method = this.methods.get(methodName) ?? [...this.methods.values()].find((m) => m.localName === methodName);
    if (method === undefined) {
      return Promise.reject(new RpcError(Code.UNIMPLEMENTED, `${this.definition.name} has no method ${methodName}`, { mayHaveRun: false }));
    }
    return this.call(method, request, options);
  }

  /** Like invoke, with the response metadata and the endpoint that answered. */
  invokeWithResult(methodName: string, request: unknown, options?: CallOptions): Promise<Result> {
    const method = this.methods.get(methodName) ?? [...this.methods.values()].find((m) => m.localName === methodName);
    if (method === undefined) {
      return Promise.reject(new RpcError(Code.UNIMPLEMENTED, `${this.definition.name} has no method ${methodName}`, { mayHaveRun: false }));
    }
    return this.callWithResult(method, request, options);
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
    if (!this.options.transport) await this.transport.close();
    if (!this.options.registry) await this.registry.close();
  }

  private call(method: MethodDescriptor, request: unknown, options: CallOptions | undefined): Promise<unknown> {
    return this.callWithResult(method, request, options).then(responseOf);
  }

  private callWithResult(method: MethodDescriptor, request: unknown, options: CallOptions | undefined): Promise<Result> {
    if (this.closed) return Promise.reject(this.closedError());
    let metadata: Metadata;
    if (options === undefined) {
      metadata = new Map();
    } else {
      const problem = callOptionsProblem(options);
      if (problem !== undefined) return Promise.reject(problem);
      try {
        metadata = requestMetadata(options.metadata);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const timeoutMs = options?.timeoutMs ?? (method.options.timeoutMs as number | undefined) ?? this.timeoutMs;
    if (this.callerName !== undefined) metadata.set(MetadataKeys.CALLER, this.callerName);
    const invocation: Invocation = {
      service: this.service,
      method: options?.idempotent === undefined ? method : { ...method, idempotent: options.idempotent },
      request,
      metadata,
      deadline: this.clock.now() + timeoutMs,
      signal: options?.signal,
      attempt: 1,
      excluded: EMPTY_SET,
      context: new ContextValues(),
    };
    if (invocation.signal?.aborted) {
      return Promise.reject(new RpcError(Code.CANCELLED, 'call cancelled before it started', { mayHaveRun: false }));
    }
    if (!this.started || !this.directory.resolved) return this.slowStart(invocation);
    return this.chain(invocation);
  }

  private async slowStart(invocation: Invocation): Promise<Result> {
    await this.start();
    if (!this.directory.resolved) await this.directory.waitResolved(invocation.deadline - this.clock.now());
    if (!this.directory.resolved) {
      throw new RpcError(Code.UNAVAILABLE, `no provider list for ${formatServiceKey(this.service)} arrived from the ${this.registry.name} registry before the deadline`, { mayHaveRun: false });
    }
    return this.chain(invocation);
  }

  private async doStart(): Promise<void> {
    const context = this.pluginContext();
    for (const plugin of this.plugins) await plugin.setupClient!(context);
    this.interceptors.sort((a, b) => a.order - b.order);
    this.endpointInterceptors.sort((a, b) => a.order - b.order);
    this.chain = composeInterceptors(this.interceptors.map((i) => i.interceptor), (inv) => this.invokeCluster(inv));
    this.endpointChain = composeEndpointInterceptors(this.endpointInterceptors.map((i) => i.interceptor), (inv, e) => this.send(inv, e));
    this.routerList = [new HealthRouter(() => this.health), ...this.routers].sort((a, b) => a.order - b.order);
    if (this.balancer === undefined) {
      const choice = this.options.loadBalancer ?? 'round-robin';
      if (typeof choice === 'string') {
        const factory = this.balancers.get(choice);
        if (factory === undefined) {
          throw new TrellisError(ErrorCodes.UNKNOWN_LOAD_BALANCER, `load balancer "${choice}" is unknown; known: ${[...this.balancers.keys()].join(', ')} (plugins add more, e.g. @trellis/lb-lalb)`);
        }
        this.balancer = factory();
      } else {
        this.balancer = choice;
      }
    }
    this.directory.onChange((endpoints) => this.transport.retain(endpoints));
    this.directory.start(this.registry);
    this.started = true;
  }

  /**
   * Directory + balancer + endpoint chain, with transparent retry of calls that never ran. The first
   * attempt runs without an async frame: an async function and an await would add two promises to
   * every call (and their hooks, once an AsyncLocalStorage context manager is on).
   */
  private invokeCluster(invocation: Invocation): Promise<Result> {
    let pick: Pick;
    let attempt: Promise<Result>;
    try {
      pick = this.select(invocation);
    } catch (error) {
      return Promise.reject(error);
    }
    const started = this.clock.now();
    try {
      attempt = this.endpointChain(invocation, pick.endpoint);
    } catch (error) {
      attempt = Promise.reject(error);
    }
    return attempt.then(
      (result) => {
        pick.done({ latencyMs: this.clock.now() - started });
        return result;
      },
      (thrown: unknown) => this.afterFailedAttempt(invocation, pick, started, thrown),
    );
  }

  /** The rest of invokeCluster once an attempt failed: a transparent retry, or the error. */
  private async afterFailedAttempt(invocation: Invocation, firstPick: Pick, firstStarted: number, firstThrown: unknown): Promise<Result> {
    let inv = invocation;
    let pick = firstPick;
    let started = firstStarted;
    let thrown = firstThrown;
    for (let retries = 0; ; retries++) {
      const error = RpcError.from(thrown);
      pick.done({ latencyMs: this.clock.now() - started, error });
      const transparent = error.code === Code.UNAVAILABLE && !error.mayHaveRun && retries < this.transparentRetries &&
        this.clock.now() < inv.deadline && !inv.signal?.aborted;
      if (!transparent) throw error;
      const excluded = new Set(inv.excluded);
      excluded.add(pick.endpoint.id);
      inv = { ...inv, excluded };
      pick = this.select(inv);
      started = this.clock.now();
      try {
        const result = await this.endpointChain(inv, pick.endpoint);
        pick.done({ latencyMs: this.clock.now() - started });
        return result;
      } catch (next) {
        thrown = next;
      }
    }
  }

  /** Routes and picks; throws UNAVAILABLE (never ran) with the reason when nothing is usable. */
  select(invocation: Invocation): { endpoint: Endpoint; done(outcome: { latencyMs: number; error?: RpcError }): void } {
    const known = this.directory.endpoints;
    let list = known;
    for (const router of this.routerList) {
      const next = router.route(list, invocation);
      if (next.length === 0 && list.length > 0) return this.unavailable(known, invocation, router, list);
      list = next;
    }
    const pick = list.length === 0 ? undefined : this.balancer!.pick(list, invocation);
    if (pick !== undefined) return pick;
    return this.unavailable(known, invocation, undefined, list);
  }

  /** UNAVAILABLE (never ran), saying which step left nothing to call and what it had been given. */
  private unavailable(known: readonly Endpoint[], invocation: Invocation, emptiedBy: Router | undefined, given: readonly Endpoint[]): never {
    const what = formatServiceKey(this.service);
    const states = (list: readonly Endpoint[]) => list.map((e) => `${e.id}=${this.health.state(e)}`).join(', ');
    let why: string;
    if (known.length === 0) why = `the ${this.registry.name} registry lists no provider of ${what}`;
    else if (emptiedBy !== undefined) why = `no provider of ${what} is usable: the ${emptiedBy.name} router left none of the ${given.length} it was given (${states(given)})`;
    else why = `every usable provider of ${what} was already tried by this call (${[...invocation.excluded].join(', ')})`;
    throw new RpcError(Code.UNAVAILABLE, why, { mayHaveRun: false });
  }

  /** Encode, send, decode. Not async, for the same reason as invokeCluster: one promise less per call. */
  private send(invocation: Invocation, endpoint: Endpoint): Promise<Result> {
    const remaining = invocation.deadline - this.clock.now();
    if (remaining <= 0) {
      return Promise.reject(new RpcError(Code.DEADLINE_EXCEEDED, `deadline exceeded before the call to ${endpoint.id} was sent`, { mayHaveRun: false }));
    }
    const method = invocation.method;
    let body: Uint8Array;
    try {
      body = method.requestCodec.encode(invocation.request);
    } catch (error) {
      return Promise.reject(new RpcError(Code.INVALID_ARGUMENT, `request for ${method.service}/${method.name} could not be encoded: ${(error as Error).message}`, { mayHaveRun: false }));
    }
    let sent: Promise<InboundResponse>;
    try {
      sent = this.transport.call(endpoint, {
      group: this.service.group,
      service: this.service.name,
      version: endpoint.version === '*' ? '' : endpoint.version,
      method: method.name,
      metadata: invocation.metadata,
      body,
      timeoutMs: Math.ceil(remaining),
      attempt: invocation.attempt,
      signal: invocation.signal,
      });
    } catch (error) {
      return Promise.reject(error);
    }
    return sent.then((response) => {
      let message: unknown;
      try {
        message = method.responseCodec.decode(response.body);
      } catch (error) {
        throw new RpcError(Code.INTERNAL, `response from ${endpoint.id} for ${method.name} could not be decoded: ${(error as Error).message}`);
      }
      return { response: message, metadata: response.metadata, endpoint };
    });
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
      addInterceptor: (interceptor, order) => this.interceptors.push({ interceptor, order }),
      addEndpointInterceptor: (interceptor, order) => this.endpointInterceptors.push({ interceptor, order }),
      addRouter: (router) => this.routers.push(router),
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

function responseOf(result: Result): unknown {
  return result.response;
}
