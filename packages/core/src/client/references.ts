import { instanceCachingFactory, type DependencyContainer } from 'tsyringe';
import type { ServiceDefinition } from '../definition.js';
import { declaredReferences } from '../decorators.js';
import { ErrorCodes, TrellisError } from '../errors.js';
import type { Plugin } from '../plugin.js';
import type { Registry } from '../registry.js';
import { RpcClient, type RpcClientOptions } from './rpc-client.js';

export interface ProvideReferencesOptions {
  readonly registry: Registry;
  /** The definitions references may name (e.g. `Object.values(loadProto(...).services)`). */
  readonly services: readonly ServiceDefinition[];
  /** Plugins every reference's client gets, created per client (plugins hold per-client state). */
  readonly plugins?: () => readonly Plugin[];
  readonly defaults?: Partial<Omit<RpcClientOptions, 'service' | 'registry' | 'plugins'>>;
}

export interface ReferenceSet {
  readonly clients: readonly RpcClient[];
  close(): Promise<void>;
}

/**
 * Registers a factory for every `@RpcReference` declared so far: resolving the class that declares one
 * creates (once) an RpcClient with its own plugin set and injects its typed stub.
 */
export function provideReferences(container: DependencyContainer, options: ProvideReferencesOptions): ReferenceSet {
  const clients: RpcClient[] = [];
  const byName = new Map(options.services.map((s) => [s.name, s]));
  for (const reference of declaredReferences()) {
    container.register(reference.token, {
      useFactory: instanceCachingFactory(() => {
        const service = byName.get(reference.service);
        if (service === undefined) {
          throw new TrellisError(
            ErrorCodes.REFERENCE_UNRESOLVED,
            `@RpcReference('${reference.service}') names a service that was not given to provideReferences(); known: ${[...byName.keys()].join(', ')}`,
          );
        }
        const { plugins, methods, ...rest } = reference.options;
        const client = new RpcClient({
          ...options.defaults,
          ...rest,
          service,
          registry: options.registry,
          methods,
          plugins: [...(options.plugins?.() ?? []), ...(plugins ?? [])],
        });
        clients.push(client);
        return client.stub();
      }),
    });
  }
  return {
    clients,
    close: async () => {
      await Promise.all(clients.map((c) => c.close()));
    },
  };
}
