import { container as rootContainer, type DependencyContainer } from 'tsyringe';
import { systemClock, type Clock } from '../clock.js';
import { DeadlineTimer } from '../deadline-timer.js';
import type { MethodDescriptor, ServiceDefinition } from '../definition.js';
import { getMethodMetadata, getServiceMetadata } from '../decorators.js';
import { DEFAULT_WEIGHT, type InstanceInfo, type MethodTraits } from '../endpoint.js';
import { Code, ErrorCodes, RpcError, TrellisError, invalidOption, notExecuted } from '../errors.js';
import { Inspectors, type Inspection } from '../inspection.js';
import { rejectUnknownKeys } from '../options.js';
import { checkPlugin, type Plugin, type PrimaryPluginContext, type ServerPluginContext } from '../plugin.js';
import { MemoryRegistry } from '../registry/memory-registry.js';
import type { Registry } from '../registry.js';
import { formatServiceKey, serviceKey, type ServiceKey } from '../service-key.js';
import { TOKENS } from '../tokens.js';
import type { InboundRequest, Listener, ServerExchange, ServerTransport, ServingView } from '../transport.js';
import type { StreamHandler } from '../transport-stream.js';
import { TcpServerTransport, type TcpServerOptions } from '../transport/tcp-server-transport.js';
import { KERNEL_VERSION } from '../version.js';
import { advertisedHost } from './advertised-host.js';
import { ListenerSet, NATIVE_PROTOCOL, protocolPorts, resolveListeners, type ListenerAddress, type ListenerOptions } from './listener-set.js';
import { ServingState } from './serving-state.js';
import { errorForCaller, HandlerError } from './error-redaction.js';
import { deadlineBudget, ServerCall } from './server-call.js';
import { codeOfThrown, ServerHooks, type ServerCallBody } from './server-hooks.js';
import { composeServerInterceptors, type ServerInterceptor, type ServerInvoker } from './server-invocation.js';
import { ServiceTable, type Handler, type MethodEntry } from './service-table.js';
import { createStreamDispatch, refuseStreamAsUnary, StreamServerCall } from './stream-dispatch.js';
import { WorkerGroup } from './workers/worker-group.js';
import { resolveWorkersOptions, type ResolvedWorkersOptions, type WorkerInfo, type WorkerInspection, type WorkersOptions } from './workers/worker-options.js';
import { announceReady, answerInspections, isGroupWorker, leaveSignalsToThePrimary, onDrainRequest } from './workers/worker-process.js';

export interface RpcServerOptions {
  /** Interface to bind (default `0.0.0.0`). */
  readonly host?: string;
  /** Port to bind (default 0: any free port; read it from `server.port`). */
  readonly port?: number;
  /** Address published in the registry (default: host, or this machine's first IPv4 for 0.0.0.0). */
  readonly advertiseHost?: string;
  /** Where providers register (default: a private in-memory registry, i.e. no discovery). */
  readonly registry?: Registry;
  readonly transport?: ServerTransport;
  /**
   * Several ports, one per protocol, all serving the same services (issue #19): e.g.
   * `[{ protocol: 'trellis', port: 7001 }, { protocol: 'grpc', port: 7002, transport: new GrpcServerTransport() }]`.
   * Instead of `port` / `transport`. The native listener's port is `server.port` and the registry
   * key; the instance document lists every protocol with its port (`protocols`).
   */
  readonly listeners?: readonly ListenerOptions[];
  /** Options for the default TCP transport (limits, max streams, max connections). */
  readonly tcp?: TcpServerOptions;
  readonly weight?: number;
  readonly tags?: Readonly<Record<string, string>>;
  readonly zone?: string;
  readonly plugins?: readonly Plugin[];
  /** Parent container; the server gets its own child. */
  readonly container?: DependencyContainer;
  readonly clock?: Clock;
  /** How long close() waits for the registry to confirm deregistration (default 3000 ms). */
  readonly registryTimeoutMs?: number;
  /**
   * Where problems no caller sees are reported: registry errors at shutdown, and (with
   * `redactErrors`) each redacted handler failure as a `HandlerError`. Default: a process warning.
   */
  readonly onError?: (error: Error) => void;
  /**
   * Send callers only `UNKNOWN: internal error (id …)` for a handler failure that is not an
   * RpcError (its message may hold internals), with the id also in the `trellis-error-id` trailer;
   * the full error goes to `onError` under that id. RpcError messages are always sent as they are.
   * Default: on when `NODE_ENV` is `production`.
   */
  readonly redactErrors?: boolean;
  /**
   * Serve from this many worker processes (node:cluster) sharing the port; `'auto'` = one per core.
   * The module that sets up the server runs in the primary and in every worker: in the primary,
   * start() forks the workers and registers once all are ready; in a worker it serves. See the
   * README's "Serving on every core".
   */
  readonly workers?: number | 'auto' | WorkersOptions;
}

const SERVER_OPTION_KEYS: readonly (keyof RpcServerOptions)[] = [
  'host', 'port', 'advertiseHost', 'registry', 'transport', 'listeners', 'tcp', 'weight', 'tags', 'zone', 'plugins', 'container', 'clock',
  'registryTimeoutMs', 'onError', 'redactErrors', 'workers',
];

export interface CloseOptions {
  /** How long in-flight calls may take to finish before they are cancelled (default 10 s). */
  readonly graceMs?: number;
}

export interface ReloadOptions {
  /** How long each replaced worker's calls in flight may take to finish (default 10 s). */
  readonly graceMs?: number;
}

type ServerState = 'new' | 'starting' | 'serving' | 'closing' | 'closed';

/**
 * A provider: hosts services on one listener, runs the server interceptor chain, registers in the
 * registry once listening and ready, and shuts down gracefully (deregister → GOAWAY → drain → close).
 */
export class RpcServer {
  private readonly table = new ServiceTable();
  private readonly handlers = new Map<MethodDescriptor, Handler>();
  private readonly interceptors: { interceptor: ServerInterceptor; order: number }[] = [];
  private readonly readinessChecks: (() => unknown)[] = [];
  private readonly shutdownHooks: (() => unknown)[] = [];
  private readonly listeningHooks: ((listener: Listener) => unknown)[] = [];
  private readonly closeHooks: (() => unknown)[] = [];
  private readonly inspectors = new Inspectors();
  private readonly plugins: Plugin[] = [];
  private readonly pluginNames = new Set<string>();
  private readonly registered: { key: ServiceKey; info: InstanceInfo }[] = [];
  /** Tags plugins add to the instance documents (`setInstanceTag`). */
  private readonly pluginTags: Record<string, string> = {};
  /** Per service: what `@RpcMethod` declared about its methods, published with the instance. */
  private readonly methodTraits = new Map<object, Record<string, MethodTraits>>();
  /** Services added with `register: false`: served, never put in the registry. */
  private readonly unregistered = new Set<object>();
  private readonly timer: DeadlineTimer;
  /** Stream opens (issue #18, server/stream-dispatch.ts): the same interceptor chain, once per stream. */
  private readonly streamDispatch: StreamHandler;
  private readonly clock: Clock;
  private readonly redactErrors: boolean;
  private readonly reportHandlerError = (error: HandlerError): void => this.report(error, error.cause instanceof Error ? error.cause.stack : undefined);
  private invoker: ServerInvoker = (call) => this.runHandler(call);
  /** Server observers and gates (`observe`, `addGate`): run in the kernel's flow, no interceptor layer. */
  private readonly hooks = new ServerHooks();
  /** What a unary call runs after the hooks when interceptors are registered: the chain (set at start). */
  private unaryBody: ServerCallBody = (call) => this.invoker(call);
  /**
   * With hooks and no interceptor, what a method's unary calls run after the hooks: its handler,
   * called directly (one closure per method, made on its first call and kept with the route memo,
   * so a call costs no handler look-up by descriptor).
   */
  private readonly directBodies = new Map<MethodEntry, ServerCallBody>();
  /** No interceptor: the hooks hand the call straight to its handler (set at start). */
  private directBody = false;
  /** Stream opens run the hooks around the chain, when there are hooks (set at start). */
  private streamInvoker: ServerInvoker = (call) => this.invoker(call);
  /** No server interceptor: unary calls run their handler directly (set at start). */
  private bareHandlers = false;
  /**
   * The route of the last request dispatched and its method: a connection's requests mostly repeat
   * one route, whose strings the transport hands over as the same objects each time (its route
   * memo), so four comparisons replace the table's lookups.
   */
  private lastRoute: { group: string; service: string; version: string; method: string; entry: MethodEntry; body: ServerCallBody } | undefined;
  private listenerSet: ListenerSet | undefined;
  /** `listeners` checked at construction (mistakes throw there, fastify style). */
  private readonly listenerSpecs: ReturnType<typeof resolveListeners>;
  private readonly servingState = new ServingState();
  private state: ServerState = 'new';
  private closing: Promise<void> | undefined;
  private startedAt = 0;
  /** `workers` resolved: set in the primary of a worker group and in each of its workers. */
  private readonly workerOptions: ResolvedWorkersOptions | undefined;
  /** This process is one of a group's workers: it serves, the primary registers. */
  private readonly inWorker: boolean;
  /** The primary's supervisor of its workers. */
  private group: WorkerGroup | undefined;
  readonly registry: Registry;
  readonly container: DependencyContainer;

  constructor(private readonly options: RpcServerOptions = {}) {
    if (typeof options !== 'object' || options === null) throw invalidOption('options', options, 'an object of RpcServer options');
    rejectUnknownKeys('RpcServer', options, SERVER_OPTION_KEYS);
    if (options.redactErrors !== undefined && typeof options.redactErrors !== 'boolean') throw invalidOption('redactErrors', options.redactErrors, 'true or false');
    if (options.onError !== undefined && typeof options.onError !== 'function') throw invalidOption('onError', options.onError, 'a function (error) => void');
    this.redactErrors = options.redactErrors ?? process.env.NODE_ENV === 'production';
    if (options.port !== undefined && !(Number.isInteger(options.port) && options.port >= 0 && options.port <= 65535)) {
      throw invalidOption('port', options.port, 'an integer in 0..65535');
    }
    if (options.listeners !== undefined) {
      if (options.port !== undefined) throw invalidOption('port', options.port, 'nothing when `listeners` is given (each listener has its port)');
      if (options.transport !== undefined) throw invalidOption('transport', options.transport, 'nothing when `listeners` is given (each listener has its transport)');
    }
    if (options.weight !== undefined && !(options.weight >= 0)) throw invalidOption('weight', options.weight, 'a number ≥ 0');
    this.listenerSpecs = this.resolveListeners();
    this.workerOptions = resolveWorkersOptions(options.workers);
    this.inWorker = this.workerOptions !== undefined && isGroupWorker();
    this.clock = options.clock ?? systemClock;
    this.timer = new DeadlineTimer(() => this.clock.now());
    this.streamDispatch = createStreamDispatch({
      table: this.table,
      clock: this.clock,
      timer: this.timer,
      invoker: () => this.streamInvoker,
      errorForCaller: (error, method) => errorForCaller(error, this.redactErrors, method, this.reportHandlerError),
    });
    this.registry = options.registry ?? new MemoryRegistry();
    this.container = (options.container ?? rootContainer).createChildContainer();
    this.container.register(TOKENS.Registry, { useValue: this.registry });
    this.container.register(TOKENS.Clock, { useValue: this.clock });
    for (const plugin of options.plugins ?? []) this.use(plugin);
  }

  /**
   * Adds a service. Group and version come from options, else from `@RpcService`, else defaults.
   * `register: false` serves it without registering it in the registry: a built-in service of the
   * process (server reflection) that callers reach on a known address, not one consumers discover.
   */
  addService(definition: ServiceDefinition, implementation: object, options: { group?: string; version?: string; register?: boolean } = {}): this {
    this.assertState('new', 'add services');
    if (!definition || typeof definition.name !== 'string' || typeof definition.methods !== 'object') {
      throw new TrellisError(ErrorCodes.SERVICE_INVALID, 'addService needs a ServiceDefinition (load one with @trellis/codec-protobuf)');
    }
    if (typeof implementation === 'function') {
      const name = (implementation as { name?: string }).name || 'the class';
      throw new TrellisError(
        ErrorCodes.SERVICE_INVALID,
        `addService(${definition.name}, ${name}) was given a class; pass an instance: new ${name}() or container.resolve(${name})`,
      );
    }
    if (typeof implementation !== 'object' || implementation === null) {
      throw new TrellisError(ErrorCodes.SERVICE_INVALID, `addService(${definition.name}, …) needs an object whose methods handle the calls; got ${String(implementation)}`);
    }
    const meta = getServiceMetadata(implementation);
    if (meta && meta.name !== definition.name) {
      throw new TrellisError(
        ErrorCodes.SERVICE_INVALID,
        `${implementation.constructor.name} is decorated @RpcService('${meta.name}') but was added for ${definition.name}`,
      );
    }
    const key = serviceKey(definition.name, { group: options.group ?? meta?.group, version: options.version ?? meta?.version });
    const timeouts = new Map<string, number>();
    const declared = getMethodMetadata(implementation);
    for (const [name, m] of declared) if (m.timeoutMs !== undefined) timeouts.set(name, m.timeoutMs);
    const entry = this.table.add(key, definition, implementation, timeouts);
    this.lastRoute = undefined; // a new version of a service may take requests an older one answered
    const traits: Record<string, MethodTraits> = {};
    for (const method of entry.methods.values()) {
      this.handlers.set(method.method, method.handler);
      // Published with the instance, by wire name, so consumers learn it through the registry.
      const idempotent = (declared.get(method.method.localName) ?? declared.get(method.method.name))?.idempotent;
      if (idempotent !== undefined) traits[method.method.name] = { idempotent };
    }
    if (Object.keys(traits).length > 0) this.methodTraits.set(entry, traits);
    if (options.register === false) this.unregistered.add(entry);
    return this;
  }

  /** Registers a plugin; its server hook runs at start(). */
  use(plugin: Plugin): this {
    this.assertState('new', 'register plugins');
    checkPlugin(plugin, 'server', this.pluginNames);
    this.pluginNames.add(plugin.meta.name);
    this.plugins.push(plugin);
    return this;
  }

  get port(): number {
    if (this.group?.listeningPort !== undefined) return this.group.listeningPort;
    if (!this.listenerSet) throw new TrellisError(ErrorCodes.SERVER_STATE, 'the server is not listening yet; await start() first');
    return this.listenerSet.primary.port;
  }

  /** Every listener with its protocol and port, the native one first (empty before start). */
  get listeners(): readonly ListenerAddress[] {
    return this.group?.listeners ?? this.listenerSet?.addresses ?? [];
  }

  /** Whether the server is serving: false until ready, and again from the start of a graceful stop or while a plugin holds it out. */
  get servingStatus(): ServingView {
    return this.servingState;
  }

  get host(): string {
    return this.options.advertiseHost ?? advertisedHost(this.options.host ?? '0.0.0.0');
  }

  /** Open client connections (0 before start). */
  get connectionCount(): number {
    return this.listenerSet?.connectionCount ?? 0;
  }

  get serving(): boolean {
    if (this.group) return this.state === 'serving' && this.group.servable;
    return this.state === 'serving';
  }

  /** The primary's workers and their state (empty without `workers`, and inside a worker). */
  get workers(): readonly WorkerInfo[] {
    return this.group?.workers ?? [];
  }

  /**
   * In the primary of a worker group: every worker's info and its own `inspect()`, asked over the
   * cluster channel (a worker silent for `timeoutMs`, default 2 s, gets an `error`). Empty elsewhere.
   */
  async inspectWorkers(options: { timeoutMs?: number } = {}): Promise<readonly WorkerInspection[]> {
    return this.group === undefined ? [] : this.group.inspect(options.timeoutMs ?? 2000);
  }

  /** A read-out for operators: services and methods, the listeners, workers, every plugin inspector. */
  inspect(): Inspection {
    return {
      side: 'server',
      plugins: this.plugins.map((plugin) => ({ name: plugin.meta.name, kernel: plugin.meta.kernel })),
      kernel: {
        state: this.state,
        serving: this.serving,
        host: this.host,
        port: this.listenerSet?.primary.port ?? this.group?.listeningPort,
        listeners: this.listeners.map((listener) => ({ ...listener })),
        connections: this.connectionCount,
        inflight: this.listenerSet?.inflightCount,
        registry: this.registry.name,
        services: this.table.entries().map((entry) => ({ ...entry.key, methods: [...entry.methods.keys()], openStreams: entry.openStreams })),
        workers: this.workers.map((worker) => ({ ...worker })),
      },
      inspectors: this.inspectors.take(),
    };
  }

  /** Runs plugin hooks, listens, runs readiness checks, then registers every service. */
  async start(): Promise<this> {
    this.assertState('new', 'start');
    if (this.table.entries().length === 0) {
      throw new TrellisError(ErrorCodes.SERVER_STATE, 'the server has no services; call addService() before start()');
    }
    this.state = 'starting';
    if (this.workerOptions !== undefined && !this.inWorker) return this.startPrimary(this.workerOptions);
    // A worker may be told to leave while it still starts (the group stops): it closes and exits then.
    if (this.inWorker) {
      onDrainRequest((graceMs, handOver) => this.closeWith(graceMs, handOver));
      leaveSignalsToThePrimary();
      this.closeHooks.push(answerInspections(() => this.inspect()));
    }
    try {
      for (const plugin of this.plugins) await plugin.setupServer!(this.pluginContext());
      this.interceptors.sort((a, b) => a.order - b.order);
      this.invoker = composeServerInterceptors(this.interceptors.map((i) => i.interceptor), (call) => this.runHandler(call));
      this.hooks.seal();
      this.bareHandlers = this.interceptors.length === 0 && this.hooks.empty;
      if (!this.hooks.empty) {
        const chain = this.invoker;
        // No interceptor: the hooks hand the call straight to its handler (a synchronous answer stays
        // synchronous), through the method's direct body (bodyFor).
        this.directBody = this.interceptors.length === 0;
        this.unaryBody = chain;
        this.streamInvoker = (call) => this.hooks.runStream(call as ServerCall, chain, () => this.clock.now());
      }
      this.listenerSet = await ListenerSet.open(this.listenerSpecs, this.servingState, this.dispatch, this.streamDispatch);
      for (const hook of this.listeningHooks) await hook(this.listenerSet.primary);
      for (const check of this.readinessChecks) await check();
      this.servingState.setLive(true);
      if (this.inWorker) {
        // The primary registers the group once every worker is ready.
        this.state = 'serving';
        announceReady(this.listenerSet.primary.port, this.options.listeners !== undefined ? this.listenerSet.addresses : undefined);
        return this;
      }
      await this.registerAll(this.listenerSet.primary.port);
      this.state = 'serving';
      return this;
    } catch (error) {
      this.state = 'closing';
      this.servingState.setLive(false);
      await this.deregisterAll();
      await this.listenerSet?.close();
      // Plugins set up before the failure release what they hold (ports, timers).
      for (const hook of this.closeHooks.reverse()) await this.safely(hook, 'close hook');
      this.state = 'closed';
      throw error;
    }
  }

  /**
   * Graceful shutdown: shutdown hooks (health → NOT_SERVING), deregister, GOAWAY on every connection
   * (new requests are refused as "not executed", safe to retry elsewhere), wait for in-flight calls
   * up to `graceMs`, cancel what is left, close.
   */
  close(options: CloseOptions = {}): Promise<void> {
    return this.closeWith(options.graceMs ?? 10_000, false);
  }

  /**
   * With `workers`, in the primary: replaces the workers one at a time (each new worker is ready
   * before an old one leaves; the old one asks its clients to reconnect and finishes its calls), so
   * no call fails. Resolves when every worker is new. SIGHUP is the usual trigger. In a worker it
   * does nothing: a signal handler the shared module installs runs there too, and the primary is
   * the one that reloads.
   */
  async reload(options: ReloadOptions = {}): Promise<void> {
    if (this.inWorker) return;
    if (this.group === undefined || this.state !== 'serving') {
      throw new TrellisError(ErrorCodes.SERVER_STATE,
        `cannot reload: ${this.group === undefined ? 'only the primary of a server started with `workers` can reload' : `the server is ${this.state}`}`);
    }
    await this.group.reload(options.graceMs ?? 10_000);
  }

  /** Forks the workers, waits until every one is ready, then registers the group as one instance. */
  private async startPrimary(workers: ResolvedWorkersOptions): Promise<this> {
    this.group = new WorkerGroup(workers, () => void this.deregisterAll(), (error) => this.report(error));
    try {
      // Group-wide plugin parts (the admin console): set up before registration, so their tags count.
      for (const plugin of this.plugins) await plugin.setupPrimary?.(this.primaryContext());
      const port = await this.group.start();
      await this.registerAll(port);
      this.state = 'serving';
      return this;
    } catch (error) {
      this.state = 'closing';
      await this.deregisterAll();
      await this.group.stop(0);
      for (const hook of this.closeHooks.reverse()) await this.safely(hook, 'close hook');
      this.state = 'closed';
      throw error;
    }
  }

  /** `listeners`, or the single port of `port` / `transport` as before. */
  private resolveListeners(): ReturnType<typeof resolveListeners> {
    const host = this.options.host ?? '0.0.0.0';
    const native = () => ({ transport: new TcpServerTransport(this.options.tcp), tls: this.options.tcp?.tls !== undefined });
    if (this.options.listeners !== undefined) return resolveListeners(this.options.listeners, host, native);
    const transport = this.options.transport;
    return [{ protocol: NATIVE_PROTOCOL, host, port: this.options.port ?? 0, ...(transport ? { transport, tls: undefined } : native()) }];
  }

  private async registerAll(port: number): Promise<void> {
    this.startedAt = Date.now();
    // With `listeners`, the document also lists every protocol and its port; the primary's stays in `port`.
    const addresses = this.listeners;
    const protocols = this.options.listeners !== undefined && addresses.length > 0 ? protocolPorts(addresses) : undefined;
    const protocol = addresses[0]?.protocol ?? NATIVE_PROTOCOL;
    for (const entry of this.table.entries()) {
      if (this.unregistered.has(entry)) continue;
      const info: InstanceInfo = {
        host: this.host,
        port,
        weight: this.options.weight ?? DEFAULT_WEIGHT,
        version: entry.key.version,
        tags: { ...this.pluginTags, ...this.options.tags },
        zone: this.options.zone,
        protocol,
        startedAt: this.startedAt,
        ...(protocols ? { protocols } : {}),
        ...(this.methodTraits.has(entry) ? { methods: this.methodTraits.get(entry) } : {}),
      };
      await this.registry.register(entry.key, info);
      this.registered.push({ key: entry.key, info });
    }
  }

  private closeWith(graceMs: number, handOver: boolean): Promise<void> {
    this.closing ??= this.doClose(graceMs, handOver);
    return this.closing;
  }

  private async doClose(graceMs: number, handOver: boolean): Promise<void> {
    const wasServing = this.state === 'serving';
    this.state = 'closing';
    // Health checks answer NOT_SERVING from here on, before the shutdown hooks and deregistration.
    this.servingState.setLive(false);
    if (wasServing) {
      for (const hook of this.shutdownHooks) await this.safely(hook, 'shutdown hook');
      await this.deregisterAll();
    }
    // The primary: deregistered first (above), then every worker drains.
    if (this.group) await this.group.stop(graceMs);
    const listener = this.listenerSet;
    if (listener) {
      if (handOver) listener.handOver('worker replaced; reconnect');
      else listener.goAway('server shutting down');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        listener.drained(),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
      ]);
      clearTimeout(timer);
      await listener.close();
    }
    for (const hook of this.closeHooks.reverse()) await this.safely(hook, 'close hook');
    this.state = 'closed';
  }

  private readonly dispatch = (request: InboundRequest, exchange: ServerExchange): void => {
    let entry: MethodEntry;
    let body: ServerCallBody;
    const last = this.lastRoute;
    if (last !== undefined && request.method === last.method && request.service === last.service && request.group === last.group && request.version === last.version) {
      entry = last.entry;
      body = last.body;
    } else {
      const route = this.table.route(request.group, request.service, request.version, request.method);
      if (route instanceof RpcError) return exchange.fail(route);
      entry = route.entry;
      body = this.bodyFor(entry);
      this.lastRoute = { group: request.group, service: request.service, version: request.version, method: request.method, entry, body };
    }
    if (entry.method.kind !== 'unary') return refuseStreamAsUnary(entry.method, exchange);
    let message: unknown;
    try {
      message = entry.method.requestCodec.decode(request.body);
    } catch (error) {
      return exchange.fail(notExecuted(
        Code.INVALID_ARGUMENT,
        `request for ${request.service}/${request.method} could not be decoded: ${(error as Error).message}`,
      ));
    }
    const now = this.clock.now();
    const call = new ServerCall(entry.service, entry.method, message, request, now, deadlineBudget(request.timeoutMs, entry.timeoutMs), request.attempt, request.peer, this.timer);
    exchange.onCancel = (reason) => call.abort(reason);
    let result: unknown;
    try {
      // No interceptor: the handler itself, so one that answers synchronously is answered in this
      // turn, with no promise around it.
      if (this.bareHandlers) result = entry.handler(message, call as never);
      else result = this.hooks.empty ? this.invoker(call) : this.hooks.start(call, body);
    } catch (error) {
      return this.answerError(call, exchange, request, error);
    }
    if (result instanceof Promise) {
      result.then(
        (response) => this.answer(call, entry.method, exchange, request, response),
        (error: unknown) => this.answerError(call, exchange, request, error),
      );
    } else if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') {
      Promise.resolve(result).then(
        (response) => this.answer(call, entry.method, exchange, request, response),
        (error: unknown) => this.answerError(call, exchange, request, error),
      );
    } else {
      this.answer(call, entry.method, exchange, request, result);
    }
  };

  /** What a unary call of `entry` runs after the hooks: its handler directly, or the interceptor chain. */
  private bodyFor(entry: MethodEntry): ServerCallBody {
    if (!this.directBody) return this.unaryBody;
    let body = this.directBodies.get(entry);
    if (body === undefined) {
      const handler = entry.handler;
      this.directBodies.set(entry, (body = (call) => handler(call.request, call as never)));
    }
    return body;
  }

  // Nothing thrown while answering may escape these two (from a promise callback it would be an
  // unhandled rejection, which ends the process). A transport that throws gets one more chance to
  // send an INTERNAL.
  private answer(call: ServerCall, method: MethodDescriptor, exchange: ServerExchange, request: InboundRequest, response: unknown): void {
    call.finish();
    // Before the answer leaves: a caller that reads metrics or a limiter once answered sees its call counted.
    if (this.hooks.watchesEnds) this.hooks.end(call, Code.OK, undefined, this.clock.now());
    const codec = method.responseCodec;
    let body: Uint8Array | undefined;
    let length = 0;
    try {
      // The codec's in-place fast path: the size now, the bytes written by the transport straight
      // into its write batch (ServerExchange.respondEncoded). Else the bytes here.
      if (codec.encodedLength !== undefined && codec.encodeInto !== undefined && exchange.respondEncoded !== undefined) length = codec.encodedLength(response);
      else body = codec.encode(response);
    } catch (error) {
      try {
        return exchange.fail(new RpcError(Code.INTERNAL, `response of ${request.service}/${request.method} could not be encoded: ${(error as Error).message}`));
      } catch (thrown) {
        return answerFailed(exchange, thrown);
      }
    }
    try {
      if (body === undefined) exchange.respondEncoded!(length, codec as Required<typeof codec>, response, call.trailers, call.headers);
      else exchange.respond(body, call.trailers, call.headers);
    } catch (thrown) {
      answerFailed(exchange, thrown);
    }
  }

  private answerError(call: ServerCall, exchange: ServerExchange, request: InboundRequest, error: unknown): void {
    call.finish();
    if (this.hooks.watchesEnds) this.hooks.end(call, codeOfThrown(error), error, this.clock.now());
    try {
      exchange.fail(errorForCaller(error, this.redactErrors, `${request.service}/${request.method}`, this.reportHandlerError));
    } catch (thrown) {
      answerFailed(exchange, thrown);
    }
  }

  private runHandler(call: { method: MethodDescriptor; request: unknown }): Promise<unknown> {
    const handler = this.handlers.get(call.method)!;
    if (call instanceof StreamServerCall) return call.runHandler(handler);
    try {
      return Promise.resolve(handler(call.request, call as never));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private async deregisterAll(): Promise<void> {
    const timeoutMs = this.options.registryTimeoutMs ?? 3000;
    for (const { key, info } of this.registered.splice(0)) {
      await this.safely(
        () => Promise.race([
          this.registry.deregister(key, info),
          new Promise((_, reject) => setTimeout(() => reject(new Error(`registry did not answer within ${timeoutMs} ms`)), timeoutMs).unref()),
        ]),
        `deregistering ${formatServiceKey(key)}`,
      );
    }
  }

  private async safely(fn: () => unknown, what: string): Promise<void> {
    try {
      await fn();
    } catch (error) {
      this.report(new Error(`${what} failed: ${(error as Error).message}`, { cause: error }));
    }
  }

  /** To `onError`, else a process warning (with `detail`, e.g. the original stack, appended). */
  private report(error: Error, detail?: string): void {
    if (this.options.onError) {
      try {
        this.options.onError(error);
      } catch {
        // A reporter's own failure must not turn into a failed call or a crash.
      }
    } else {
      process.emitWarning(detail === undefined ? error.message : `${error.message}\n${detail}`, 'TrellisWarning');
    }
  }

  private assertState(expected: ServerState, action: string): void {
    if (this.state === expected) return;
    let advice = 'do it before start()';
    if (this.state === 'closing' || this.state === 'closed') advice = 'an RpcServer cannot be used again after close(); create a new one';
    else if (action === 'start') advice = 'start() was already called';
    throw new TrellisError(ErrorCodes.SERVER_STATE, `cannot ${action}: the server is ${this.state}; ${advice}`);
  }

  /** What a plugin's `setupPrimary` gets in a worker group's primary: read-outs and tags, no call path. */
  private primaryContext(): PrimaryPluginContext {
    const { side, kernelVersion, container, clock, registry, onClose, addInspector, inspect, setInstanceTag } = this.pluginContext();
    return {
      side, kernelVersion, container, clock, registry, onClose, addInspector, inspect, setInstanceTag,
      inspectWorkers: (options) => this.inspectWorkers(options),
    };
  }

  private pluginContext(): ServerPluginContext {
    return {
      side: 'server',
      inWorkerGroup: this.inWorker,
      kernelVersion: KERNEL_VERSION,
      container: this.container,
      clock: this.clock,
      registry: this.registry,
      onClose: (fn) => this.closeHooks.push(fn),
      addInspector: (name, snapshot) => this.inspectors.add(name, snapshot),
      inspect: () => this.inspect(),
      addInterceptor: (interceptor, order) => this.interceptors.push({ interceptor, order }),
      observe: (observer) => this.hooks.observe(observer as never),
      addGate: (gate, order) => this.hooks.addGate(gate as never, order),
      addReadinessCheck: (check) => this.readinessChecks.push(check),
      onShutdown: (fn) => this.shutdownHooks.push(fn),
      onListening: (fn) => this.listeningHooks.push(fn),
      setServing: (serving) => this.servingState.setHeld(!serving),
      servingStatus: this.servingState,
      setInstanceTag: (key, value) => {
        if (typeof key !== 'string' || key === '') throw invalidOption('setInstanceTag key', key, 'a non-empty string');
        if (typeof value !== 'string') throw invalidOption(`setInstanceTag ${key}`, value, 'a string');
        this.pluginTags[key] = value;
      },
    };
  }
}

/** The transport threw while answering: try once more with INTERNAL; never throw from here. */
function answerFailed(exchange: ServerExchange, thrown: unknown): void {
  try {
    exchange.fail(new RpcError(Code.INTERNAL, `the server could not send its answer: ${(thrown as Error)?.message ?? String(thrown)}`));
  } catch { /* the transport cannot answer at all: the caller's deadline ends the call */ }
}
