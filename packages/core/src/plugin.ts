import type { DependencyContainer } from 'tsyringe';
import satisfies from 'semver/functions/satisfies.js';
import validRange from 'semver/ranges/valid.js';
import type { LoadBalancerFactory, LoadBalancer } from './balancer/load-balancer.js';
import type { Clock } from './clock.js';
import type { ServiceDefinition } from './definition.js';
import type { Endpoint } from './endpoint.js';
import { ErrorCodes, TrellisError } from './errors.js';
import type { HealthView } from './health.js';
import type { Inspection } from './inspection.js';
import type { EndpointInterceptor, Interceptor } from './invocation.js';
import type { CallGate } from './gate.js';
import type { CallObserver } from './observer.js';
import type { InterceptedCalls, RetryPolicy } from './retry-policy.js';
import type { Registry, Disposable } from './registry.js';
import type { Router } from './router.js';
import type { ServerInterceptor } from './server/server-invocation.js';
import type { ServerCallObserver, ServerGate } from './server-observer.js';
import type { WorkerInspection } from './server/workers/worker-options.js';
import type { ServiceKey } from './service-key.js';
import type { ClientTransport, Listener, ServingView } from './transport.js';
import { KERNEL_VERSION } from './version.js';

/** What a plugin declares about itself; checked when it is registered (fastify-plugin style). */
export interface PluginMeta {
  /** Unique name, conventionally the package name: `@trellis/retry`. */
  readonly name: string;
  /** Semver range of kernels this plugin works with, e.g. `^0.1.0`. */
  readonly kernel: string;
  /** Names of plugins that must be registered before this one. */
  readonly needs?: readonly string[];
}

type Awaitable<T> = T | Promise<T>;

/** A plugin supports the client side, the server side, or both. */
export interface Plugin {
  readonly meta: PluginMeta;
  setupClient?(context: ClientPluginContext): Awaitable<void>;
  setupServer?(context: ServerPluginContext): Awaitable<void>;
  /**
   * Only in the primary of `RpcServer({ workers })`, which runs no `setupServer` (it serves no call):
   * the group-wide part of a plugin, such as one admin console for every worker. Runs before the
   * workers are forked and the group registers. Optional; most plugins live in the workers only.
   */
  setupPrimary?(context: PrimaryPluginContext): Awaitable<void>;
}

interface PluginContextBase {
  readonly kernelVersion: string;
  /** This client's or server's own tsyringe child container. */
  readonly container: DependencyContainer;
  readonly clock: Clock;
  readonly registry: Registry;
  /** Runs when the client or server closes, in reverse registration order. */
  onClose(fn: () => Awaitable<void>): void;
  /**
   * Registers a read-out for operators (the admin console): `snapshot` runs only when someone asks,
   * never on the call path, and returns plain JSON-serialisable data. Names are unique per client or
   * server; use the plugin's name (`@trellis/breaker`).
   */
  addInspector(name: string, snapshot: () => unknown): void;
  /** Takes every read-out of this client or server now: the kernel's own and every inspector's. */
  inspect(): Inspection;
}

export interface ClientPluginContext extends PluginContextBase {
  readonly side: 'client';
  /** The requested service: group, name and the version *range* asked for. */
  readonly service: ServiceKey;
  readonly definition: ServiceDefinition;
  readonly transport: ClientTransport;
  /** The endpoint state view in force (the kernel's, or one a plugin set). */
  readonly health: HealthView;
  /** The consumer's own address, for IP routing. */
  readonly localAddress: string;
  /**
   * Around the whole call, above routing; `InterceptorOrder` names the slots. For plugins that change
   * the call asynchronously. `calls`: which calls it takes part in ('all', the default; 'unary';
   * 'streams'). Each interceptor is a promise layer: a check before the call is a gate (`addGate`).
   */
  addInterceptor(interceptor: Interceptor, order: number, calls?: InterceptedCalls): void;
  /**
   * A check or metadata change before the call (order before `InterceptorOrder.RETRY`) or before each
   * attempt (after it): no promise layer. Its `beforeCall` returns nothing (go on), throws (refuse) or
   * returns a promise (wait, within the call's deadline) — the server gate's contract. See `CallGate`.
   */
  addGate<S>(gate: CallGate<S>, order: number): void;
  /**
   * A request metadata entry every call of this client carries (a fixed credential, a tenant tag),
   * like gRPC's per-channel headers or a Kitex client's fixed `metainfo`. The client keeps its fixed
   * entries in one read-only map that calls share: a call that never touches its metadata sends it as
   * it is (no Map per call) and the transport encodes it once; a call whose metadata is read or given
   * gets its own Map with these entries copied in (they win over the caller's own, and an interceptor
   * may still change them). Set-up time only (in `setupClient`). Keys are lower-case, outside the
   * kernel's `trellis-` keys. A value that changes per call is an interceptor or a gate.
   */
  addRequestMetadata(key: string, value: string): void;
  /**
   * Retries unary calls with no promise layer: the kernel runs the attempts and asks the policy when
   * one fails (see `RetryPolicy`). One per client; a second throws PLUGIN_INVALID.
   */
  setRetryPolicy<S>(policy: RetryPolicy<S>): void;
  /** Around each send once the endpoint is picked; `EndpointInterceptorOrder` names the slots. */
  addEndpointInterceptor(interceptor: EndpointInterceptor, order: number): void;
  /**
   * Watches calls and attempts without changing them: synchronous hooks the kernel calls in its own
   * flow (no interceptor layer, no promise), in registration order. See `CallObserver`.
   */
  observe<S>(observer: CallObserver<S>): void;
  addRouter(router: Router): void;
  /**
   * Dormant hooks (Kitex-style: a middleware that is not needed is not in the chain). `false`: the
   * observer, router or gate `hook` (the object given to `observe` / `addRouter` / `addGate`; every
   * part of it, when it is several — a gate's `beforeCall` and its observer hooks switch together)
   * has nothing to do right now — tracing with no OpenTelemetry SDK, a router with no rules loaded,
   * the rules gate once the live documents arrived — and the kernel leaves it out of its per-call
   * lists (no call, no dispatch) until `true`. Every hook starts active. A flip costs nothing per
   * call: the kernel rebuilds its lists then, off the call path, and the flip applies from the next
   * call on. A call keeps the observers and gates that were active when it started for all its hooks
   * and attempts (an observer never sees the end of a call whose start it did not see, nor misses the
   * end of one it saw start; a call waiting at a gate that goes dormant keeps waiting for that gate's
   * promise, within its deadline); routers apply from the next routing. Call it at any time, set-up or
   * later, from the plugin's own events (a rule update, a registration). A hook not registered on this
   * client, or an `active` that is not a boolean, is an option error.
   */
  setHookActive(hook: CallObserver | Router, active: boolean): void;
  /** Makes a balancer selectable by name through the client's `loadBalancer` option. */
  addLoadBalancer(name: string, factory: LoadBalancerFactory): void;
  /** Replaces the balancer in force regardless of the option. */
  setLoadBalancer(balancer: LoadBalancer): void;
  setHealthView(view: HealthView): void;
  /** Called with the discovered (version-filtered) list on every change. */
  onEndpoints(listener: (endpoints: readonly Endpoint[]) => void): Disposable;
}

export interface ServerPluginContext extends PluginContextBase {
  readonly side: 'server';
  /**
   * This server is one worker of `RpcServer({ workers })`: group-wide endpoints (an HTTP console,
   * a health port) belong to the primary (`setupPrimary`), which reaches this worker over IPC.
   */
  readonly inWorkerGroup: boolean;
  addInterceptor(interceptor: ServerInterceptor, order: number): void;
  /**
   * Watches calls without an interceptor layer: `callStart` / `callEnd` in the kernel's own flow,
   * with its code, start and latency (one clock reading per call for every hook), and `enter` for
   * plugins that run the rest of a call in an execution context. Runs before every gate and
   * interceptor, in registration order. See `ServerCallObserver`.
   */
  observe<S>(observer: ServerCallObserver<S>): void;
  /**
   * A check before the handler, without an interceptor layer: its `admit` may throw (a coded
   * RpcError) to refuse the call or return a promise to make it wait — the client gate's contract —
   * and its `callEnd` runs for every call it admitted. Gates run
   * by `order` (`ServerInterceptorOrder`'s slots), after the observers' `callStart` and before every
   * interceptor. See `ServerGate`.
   */
  addGate<S>(gate: ServerGate<S>, order: number): void;
  /** Graceful start: the server registers in the registry only after every check resolves. */
  addReadinessCheck(check: () => Awaitable<void>): void;
  /** Runs at the very start of graceful shutdown, before deregistering (health flips to NOT_SERVING). */
  onShutdown(fn: () => Awaitable<void>): void;
  /** Runs once the server listens, with its primary listener (the native one when it has several). */
  onListening(fn: (listener: Listener) => Awaitable<void>): void;
  /**
   * Holds the server out of service (false) or lets it back (true) while it keeps running: what
   * health checks report (`servingStatus`, and through it gRPC's `grpc.health.v1`). Registration is
   * unchanged. The kernel itself reports not serving until ready and from the start of a graceful stop.
   */
  setServing(serving: boolean): void;
  /** The server's serving state (kernel lifecycle and holds), for plugins that answer health checks. */
  readonly servingStatus: ServingView;
  /**
   * Adds a tag to the instance documents this server registers (e.g. the admin console's URL), for
   * documents registered after the call — so call it during setup or in a readiness check. The
   * server's own `tags` option wins over a plugin's tag of the same key.
   */
  setInstanceTag(key: string, value: string): void;
}

/** The primary of a worker group (`Plugin.setupPrimary`): read-outs of the group and instance tags. */
export interface PrimaryPluginContext extends PluginContextBase {
  readonly side: 'server';
  /** The primary's own read-out: `kernel.workers` lists each worker's slot, pid, state, start time and restarts. */
  inspect(): Inspection;
  /** Every worker's info with its own `inspect()`, asked over the cluster channel (`RpcServer.inspectWorkers`). */
  inspectWorkers(options?: { timeoutMs?: number }): Promise<readonly WorkerInspection[]>;
  /** As on a server: tags for the group's instance documents (the primary registers them). */
  setInstanceTag(key: string, value: string): void;
}

export function definePlugin<P extends Plugin>(plugin: P): P {
  return plugin;
}

/**
 * Validates and orders plugins for one client or server. Throws coded errors for: malformed
 * metadata, a kernel range this kernel does not satisfy, a duplicate, a missing dependency, and a
 * plugin that does not support this side.
 */
export function checkPlugin(plugin: Plugin, side: 'client' | 'server', registered: ReadonlySet<string>): void {
  const meta = (plugin as Partial<Plugin> | undefined)?.meta;
  if (!meta || typeof meta.name !== 'string' || meta.name === '' || typeof meta.kernel !== 'string') {
    throw new TrellisError(
      ErrorCodes.PLUGIN_INVALID,
      'a plugin must have meta.name (a non-empty string) and meta.kernel (a semver range); got ' +
        JSON.stringify(meta ?? plugin),
    );
  }
  if (validRange(meta.kernel) === null) {
    throw new TrellisError(
      ErrorCodes.PLUGIN_INVALID,
      `plugin ${meta.name} declares kernel range ${JSON.stringify(meta.kernel)}, which is not a semver range`,
    );
  }
  if (!satisfies(KERNEL_VERSION, meta.kernel, { includePrerelease: true })) {
    throw new TrellisError(
      ErrorCodes.PLUGIN_KERNEL_MISMATCH,
      `plugin ${meta.name} needs kernel ${meta.kernel} but this is @trellis/core ${KERNEL_VERSION}; ` +
        `install a version of ${meta.name} made for this core`,
    );
  }
  if (registered.has(meta.name)) {
    throw new TrellisError(ErrorCodes.PLUGIN_DUPLICATE, `plugin ${meta.name} is registered twice on this ${side}`);
  }
  for (const need of meta.needs ?? []) {
    if (!registered.has(need)) {
      throw new TrellisError(
        ErrorCodes.PLUGIN_MISSING_DEPENDENCY,
        `plugin ${meta.name} needs ${need}; register ${need} with use() before ${meta.name}`,
      );
    }
  }
  const hook = side === 'client' ? plugin.setupClient : plugin.setupServer;
  if (typeof hook !== 'function') {
    throw new TrellisError(ErrorCodes.PLUGIN_INVALID, `plugin ${meta.name} cannot be used on a ${side}`);
  }
}
