import { describeMethods, methodKind, type MethodDescriptor, type MethodKind, type ServiceDefinition } from '../definition.js';
import { Code, ErrorCodes, RpcError, TrellisError, notExecuted } from '../errors.js';
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
  /** Streams of this service open now (issue #18), for the server's read-out (`inspect()`). */
  openStreams: number;
}

/**
 * The services a server hosts, looked up per request by group + name (+ version when several
 * versions of one service share a server). Lookups are two Map gets.
 */
export class ServiceTable {
  /** group → service name → versions: nested so a lookup builds no key string. */
  private readonly byGroup = new Map<string, Map<string, ServiceEntry[]>>();

  add(key: ServiceKey, definition: ServiceDefinition, implementation: object, timeouts: Map<string, number>): ServiceEntry {
    let byName = this.byGroup.get(key.group);
    if (byName === undefined) this.byGroup.set(key.group, (byName = new Map()));
    const versions = byName.get(key.name) ?? [];
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
    const entry: ServiceEntry = { key, definition, methods, openStreams: 0 };
    versions.push(entry);
    byName.set(key.name, versions);
    return entry;
  }

  find(group: string, name: string, version: string): ServiceEntry | undefined {
    const versions = this.byGroup.get(group)?.get(name);
    if (versions === undefined) return undefined;
    if (versions.length === 1) return versions[0];
    return versions.find((entry) => entry.key.version === version) ?? versions[0];
  }

  /**
   * The entry that serves a call (unary or stream), or the coded UNIMPLEMENTED error, never ran, that
   * the client gets when this server has no such service or method.
   */
  route(group: string, name: string, version: string, method: string): { service: ServiceEntry; entry: MethodEntry } | RpcError {
    const service = this.find(group, name, version);
    if (service === undefined) return notExecuted(Code.UNIMPLEMENTED, `service ${group}/${name} is not served here`);
    const entry = service.methods.get(method);
    if (entry === undefined) return notExecuted(Code.UNIMPLEMENTED, `method ${name}/${method} does not exist`);
    return { service, entry };
  }

  /**
   * The kind of a served method, by service and method name in any group (for transports whose wire
   * does not carry it: gRPC); undefined when no served service has it.
   */
  methodKind(name: string, method: string): MethodKind | undefined {
    for (const byName of this.byGroup.values()) {
      for (const entry of byName.get(name) ?? []) {
        const found = entry.methods.get(method);
        if (found !== undefined) return methodKind(found.method);
      }
    }
    return undefined;
  }

  entries(): ServiceEntry[] {
    return [...this.byGroup.values()].flatMap((byName) => [...byName.values()].flat());
  }
}
