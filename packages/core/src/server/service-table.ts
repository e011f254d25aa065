import { describeMethods, type MethodDescriptor, type ServiceDefinition } from '../definition.js';
import { ErrorCodes, TrellisError } from '../errors.js';
import { formatServiceKey, type ServiceKey } from '../service-key.js';
import type { ServerInvocation } from './server-invocation.js';

export type Handler = (request: unknown, call: ServerInvocation) => unknown;

export interface MethodEntry {
  readonly service: ServiceKey;
  readonly method: MethodDescriptor;
  readonly handler: Handler;
  /** Server-side cap from @RpcMethod({ timeoutMs }), if any. */
  readonly timeoutMs: number | undefined;
}

export interface ServiceEntry {
  readonly key: ServiceKey;
  readonly definition: ServiceDefinition;
  readonly methods: Map<string, MethodEntry>;
}

/**
 * The services a server hosts, looked up per request by group + name (+ version when several
 * versions of one service share a server). Lookups are two Map gets.
 */
export class ServiceTable {
  private readonly byName = new Map<string, ServiceEntry[]>();

  add(key: ServiceKey, definition: ServiceDefinition, implementation: object, timeouts: Map<string, number>): ServiceEntry {
    const id = `${key.group}/${key.name}`;
    const versions = this.byName.get(id) ?? [];
    if (versions.some((entry) => entry.key.version === key.version)) {
      throw new TrellisError(ErrorCodes.SERVICE_DUPLICATE, `service ${formatServiceKey(key)} is already added to this server`);
    }
    const methods = new Map<string, MethodEntry>();
    for (const method of describeMethods(definition).values()) {
      const impl = implementation as Record<string, unknown>;
      const fn = impl[method.localName] ?? impl[method.name];
      if (typeof fn !== 'function') {
        throw new TrellisError(
          ErrorCodes.METHOD_NOT_IMPLEMENTED,
          `service ${definition.name} has no handler for ${method.name}: add a method "${method.localName}" to the implementation`,
        );
      }
      const handler = (fn as Handler).bind(implementation);
      methods.set(method.name, { service: key, method, handler, timeoutMs: timeouts.get(method.localName) ?? timeouts.get(method.name) });
    }
    const entry: ServiceEntry = { key, definition, methods };
    versions.push(entry);
    this.byName.set(id, versions);
    return entry;
  }

  find(group: string, name: string, version: string): ServiceEntry | undefined {
    const versions = this.byName.get(`${group}/${name}`);
    if (versions === undefined) return undefined;
    if (versions.length === 1) return versions[0];
    return versions.find((entry) => entry.key.version === version) ?? versions[0];
  }

  entries(): ServiceEntry[] {
    return [...this.byName.values()].flat();
  }
}
