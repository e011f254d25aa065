import type { DependencyContainer } from 'tsyringe';
import type { ServiceDefinition } from '../definition.js';
import { REFERENCE_RESOLVER, type ReferenceDeclaration, type ReferenceResolver } from '../decorators.js';
import { ErrorCodes, TrellisError } from '../errors.js';
import type { Plugin } from '../plugin.js';
import type { Registry } from '../registry.js';
import { RpcClient, type RpcClientOptions } from './rpc-client.js';
import { rejectUnknownKeys } from '../options.js';

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

// Every key (the `satisfies` makes a key added to the type but not here a compile error).
const PROVIDE_REFERENCES_KEYS = Object.keys({ registry: true, services: true, plugins: true, defaults: true } satisfies Record<keyof ProvideReferencesOptions, true>);

/**
 * Gives `container` (and its children) the clients of its `@RpcReference` declarations: a table the
 * container owns, which creates one RpcClient — with its own plugin set — per distinct declaration
 * the first time a class that declares it is resolved, and injects its typed stub. Declarations
 * with equal options share a client; two that differ only in their plugin instances are refused
 * (`ERR_REFERENCE_CONFLICT`), since the second would silently get the first one's plugins.
 */
export function provideReferences(container: DependencyContainer, options: ProvideReferencesOptions): ReferenceSet {
  // A misspelt key (`default`) would leave every reference without its defaults, in silence.
  rejectUnknownKeys('provideReferences', options, PROVIDE_REFERENCES_KEYS);
  const table = new ReferenceTable(options);
  container.register(REFERENCE_RESOLVER, { useValue: table });
  return {
    clients: table.clients,
    close: async () => {
      await Promise.all(table.clients.map((c) => c.close()));
    },
  };
}

class ReferenceTable implements ReferenceResolver {
  readonly clients: RpcClient[] = [];
  private readonly byToken = new Map<symbol, { declaration: ReferenceDeclaration; stub: unknown }>();
  private readonly services: ReadonlyMap<string, ServiceDefinition>;

  constructor(private readonly options: ProvideReferencesOptions) {
    this.services = new Map(options.services.map((s) => [s.name, s]));
  }

  stub(declaration: ReferenceDeclaration): unknown {
    const entry = this.byToken.get(declaration.token);
    if (entry !== undefined) {
      if (!samePlugins(entry.declaration.options.plugins, declaration.options.plugins)) throw conflict(declaration);
      return entry.stub;
    }
    const stub = this.create(declaration);
    this.byToken.set(declaration.token, { declaration, stub });
    return stub;
  }

  private create(reference: ReferenceDeclaration): unknown {
    const service = this.services.get(reference.service);
    if (service === undefined) {
      throw new TrellisError(
        ErrorCodes.REFERENCE_UNRESOLVED,
        `@RpcReference('${reference.service}') names a service that was not given to provideReferences(); known: ${[...this.services.keys()].join(', ')}`,
      );
    }
    const { plugins, methods, id: _id, ...rest } = reference.options;
    const client = new RpcClient({
      ...this.options.defaults,
      ...rest,
      service,
      registry: this.options.registry,
      methods,
      plugins: [...(this.options.plugins?.() ?? []), ...(plugins ?? [])],
    });
    this.clients.push(client);
    return client.stub();
  }
}

function samePlugins(a: readonly Plugin[] | undefined, b: readonly Plugin[] | undefined): boolean {
  const left = a ?? [];
  const right = b ?? [];
  return left.length === right.length && left.every((plugin, i) => plugin === right[i]);
}

function conflict(declaration: ReferenceDeclaration): TrellisError {
  const names = (declaration.options.plugins ?? []).map((p) => p.meta?.name).join(', ');
  return new TrellisError(
    ErrorCodes.REFERENCE_CONFLICT,
    `${ErrorCodes.REFERENCE_CONFLICT}: @RpcReference('${declaration.service}') is declared twice with equal options but different ` +
      `plugin instances (${names}); one client cannot have both. Name them apart with an id ` +
      `(@RpcReference('${declaration.service}', { id: 'orders-with-retry', … })), or declare the options once and use that object in both places`,
  );
}
