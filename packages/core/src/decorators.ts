import 'reflect-metadata';
import { container as rootContainer, inject, type DependencyContainer, type InjectionToken } from 'tsyringe';
import { ErrorCodes, TrellisError } from './errors.js';
import type { Plugin } from './plugin.js';

export interface RpcServiceOptions {
  readonly group?: string;
  readonly version?: string;
}

export interface RpcMethodOptions {
  /** Safe to run twice; retry may resend it even when it may have run. */
  readonly idempotent?: boolean;
  /** Server-side cap on the handler's time, on top of the caller's deadline. */
  readonly timeoutMs?: number;
}

export interface RpcReferenceOptions {
  readonly group?: string;
  /** Semver range of provider versions (default `*`). */
  readonly version?: string;
  /** Load balancer by name: `round-robin` (default), `random`, or one a plugin adds (`lalb`). */
  readonly loadBalancer?: string;
  readonly timeoutMs?: number;
  /** Plugins for this reference's client, in order. */
  readonly plugins?: readonly Plugin[];
  /** Per-method overrides, by .proto or local name. */
  readonly methods?: Readonly<Record<string, RpcMethodOptions>>;
  /**
   * Names this declaration apart from another of the same service: two declarations that differ
   * only in their plugin instances (`{ plugins: [retry()] }` here, `{ plugins: [retry({ max: 5 })] }`
   * there) need different ids, or one shared options object. Not sent anywhere.
   */
  readonly id?: string;
}

const SERVICE_KEY = Symbol.for('trellis:rpc-service');
const METHODS_KEY = Symbol.for('trellis:rpc-methods');

export interface ServiceMetadata extends RpcServiceOptions {
  readonly name: string;
}

/** Marks a provider class: `@RpcService('helloworld.Greeter', { version: '1.0.0' })`. */
export function RpcService(name: string, options: RpcServiceOptions = {}): ClassDecorator {
  return (target) => {
    Reflect.defineMetadata(SERVICE_KEY, { name, ...options } satisfies ServiceMetadata, target);
  };
}

/** Per-method settings on a provider class: `@RpcMethod({ idempotent: true, timeoutMs: 500 })`. */
export function RpcMethod(options: RpcMethodOptions = {}): MethodDecorator {
  return (target, propertyKey) => {
    const ctor = (target as { constructor: object }).constructor;
    const methods: Map<string, RpcMethodOptions> = new Map(Reflect.getMetadata(METHODS_KEY, ctor) ?? []);
    methods.set(String(propertyKey), options);
    Reflect.defineMetadata(METHODS_KEY, methods, ctor);
  };
}

export function getServiceMetadata(target: object): ServiceMetadata | undefined {
  const ctor = typeof target === 'function' ? target : (target as { constructor: object }).constructor;
  return Reflect.getMetadata(SERVICE_KEY, ctor) as ServiceMetadata | undefined;
}

export function getMethodMetadata(target: object): ReadonlyMap<string, RpcMethodOptions> {
  const ctor = typeof target === 'function' ? target : (target as { constructor: object }).constructor;
  return (Reflect.getMetadata(METHODS_KEY, ctor) as Map<string, RpcMethodOptions> | undefined) ?? new Map();
}

export interface ReferenceDeclaration {
  /** The key every option that changes the client's behaviour is part of (`referenceToken`). */
  readonly token: symbol;
  readonly service: string;
  readonly options: RpcReferenceOptions;
}

/**
 * The injection token of a reference. Every option that changes the client is in it — group,
 * version, balancer, timeout, per-method settings, the plugins (by name, in order) and `id` — so two
 * declarations that differ get two tokens, and two that agree share one client. Plugins are objects
 * whose settings cannot be read back: two declarations with the same plugin names but different
 * plugin instances share a token, and the container refuses the second (`ERR_REFERENCE_CONFLICT`).
 */
export function referenceToken(service: string, options: RpcReferenceOptions = {}): symbol {
  return Symbol.for(`trellis:reference:${referenceKey(service, options)}`);
}

function referenceKey(service: string, options: RpcReferenceOptions): string {
  const parts = [`${options.group ?? ''}/${service}:${options.version ?? '*'}`];
  if (options.loadBalancer !== undefined) parts.push(`lb=${options.loadBalancer}`);
  if (options.timeoutMs !== undefined) parts.push(`timeoutMs=${options.timeoutMs}`);
  if (options.methods !== undefined) parts.push(`methods=${canonicalJson(options.methods)}`);
  if (options.plugins !== undefined && options.plugins.length > 0) parts.push(`plugins=${options.plugins.map(pluginName).join(',')}`);
  if (options.id !== undefined) parts.push(`id=${options.id}`);
  return parts.join(' ');
}

function pluginName(plugin: Plugin): string {
  return (plugin as { meta?: { name?: unknown } } | undefined)?.meta?.name as string | undefined ?? '?';
}

/** JSON with object keys sorted, so `{ a, b }` and `{ b, a }` give one key. */
function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? String(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const record = value as Record<string, unknown>;
  return `{${Object.keys(record).sort().filter((k) => record[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(',')}}`;
}

/**
 * Where a container's reference clients live: `provideReferences` registers one in the container it
 * is given; a declaration resolved from that container (or a child) asks it for its client.
 */
export interface ReferenceResolver {
  stub(declaration: ReferenceDeclaration): unknown;
}

/** The container-owned table of references (`provideReferences` registers it). */
export const REFERENCE_RESOLVER: InjectionToken<ReferenceResolver> = Symbol.for('trellis:reference-resolver');

/**
 * Injects a typed client into a tsyringe-managed class:
 * `constructor(@RpcReference('helloworld.Greeter', { loadBalancer: 'lalb' }) greeter: GreeterClient)`.
 * The client itself comes from the table `provideReferences(container, …)` put into the container
 * the class is resolved from (or a parent): that table, not the process, holds the declarations it
 * served and their clients. Two declarations of one service that differ only in plugin instances
 * are refused there with `ERR_REFERENCE_CONFLICT`; `id` names them apart.
 */
export function RpcReference(service: string, options: RpcReferenceOptions = {}): ParameterDecorator {
  const declaration: ReferenceDeclaration = { token: referenceToken(service, options), service, options };
  // This declaration's own token, registered in the root container every container inherits: its
  // factory runs with the container that resolves, and hands the declaration to that container's
  // table — or, without one, says what to call instead of tsyringe's "unregistered dependency token".
  const own = Symbol(`trellis:reference:${service}`);
  const useFactory = (resolving: DependencyContainer): unknown => resolveReference(resolving, declaration);
  rootContainer.register(own, { useFactory });
  // `container.resolve(referenceToken(…))` reaches the first declaration of that key.
  if (!rootContainer.isRegistered(declaration.token)) rootContainer.register(declaration.token, { useFactory });
  // Explicit inject: works even where the TypeScript loader emits no decorator metadata.
  return inject(own) as ParameterDecorator;
}

function resolveReference(resolving: DependencyContainer, declaration: ReferenceDeclaration): unknown {
  if (!resolving.isRegistered(REFERENCE_RESOLVER, true)) {
    throw new TrellisError(
      ErrorCodes.REFERENCE_UNRESOLVED,
      `${ErrorCodes.REFERENCE_UNRESOLVED}: @RpcReference('${declaration.service}') has no client in this container; call ` +
        'provideReferences(container, { registry, services }) on the container you resolve from (or a parent), after the ' +
        'classes that declare references are imported and before resolving them',
    );
  }
  return resolving.resolve(REFERENCE_RESOLVER).stub(declaration);
}
