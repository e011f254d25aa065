import 'reflect-metadata';
import { container as rootContainer, inject, type InjectionToken } from 'tsyringe';
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
  readonly token: InjectionToken<unknown>;
  readonly service: string;
  readonly options: RpcReferenceOptions;
}

const declared = new Map<symbol, ReferenceDeclaration>();

/** The injection token of a reference; the same name and options give the same token. */
export function referenceToken(service: string, options: RpcReferenceOptions = {}): symbol {
  return Symbol.for(`trellis:reference:${options.group ?? ''}/${service}:${options.version ?? '*'}:${options.loadBalancer ?? ''}`);
}

/**
 * Injects a typed client into a tsyringe-managed class:
 * `constructor(@RpcReference('helloworld.Greeter', { loadBalancer: 'lalb' }) greeter: GreeterClient)`.
 * The client itself is created by `provideReferences(container, …)`, which sees every declaration.
 */
export function RpcReference(service: string, options: RpcReferenceOptions = {}): ParameterDecorator {
  const token = referenceToken(service, options);
  if (!declared.has(token)) {
    declared.set(token, { token, service, options });
    // The fallback every container inherits: provideReferences registers the real factory nearer
    // (in the container it is given), so this only answers when that was not done, and says how
    // instead of tsyringe's "Attempted to resolve unregistered dependency token: Symbol(…)".
    rootContainer.register(token, {
      useFactory: () => {
        throw new TrellisError(
          ErrorCodes.REFERENCE_UNRESOLVED,
          `${ErrorCodes.REFERENCE_UNRESOLVED}: @RpcReference('${service}') has no client in this container; call ` +
            'provideReferences(container, { registry, services }) on the container you resolve from (or a parent), after the ' +
            'classes that declare references are imported and before resolving them',
        );
      },
    });
  }
  // Explicit inject: works even where the TypeScript loader emits no decorator metadata.
  return inject(token) as ParameterDecorator;
}

export function declaredReferences(): readonly ReferenceDeclaration[] {
  return [...declared.values()];
}
