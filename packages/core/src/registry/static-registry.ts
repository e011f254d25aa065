import { DEFAULT_WEIGHT, endpointId, type Endpoint, type InstanceInfo, type ProtocolPorts } from '../endpoint.js';
import { invalidOption } from '../errors.js';
import type { Disposable, EndpointsListener, Registry, ServiceQuery } from '../registry.js';
import type { ServiceKey } from '../service-key.js';

export interface StaticEndpoint {
  readonly host: string;
  readonly port: number;
  readonly weight?: number;
  readonly version?: string;
  readonly tags?: Readonly<Record<string, string>>;
  readonly zone?: string;
  /** What the address serves (default: the native protocol on `port`). */
  readonly protocols?: ProtocolPorts;
}

/**
 * A fixed address list — the embedded default: no registry server, every consumer is told where the
 * providers are. Registration is a no-op; a stopped provider is avoided through its connection state
 * (GOAWAY, refused connections), not through the list.
 *
 * Accepts `"host:port"` strings or objects, for one service or per service name. `grpc://host:port`
 * and `grpcs://host:port` (gRPC over TLS) name gRPC-only providers, for a client that has a gRPC
 * transport (`transports: { grpc }`).
 */
export class StaticRegistry implements Registry {
  readonly name = 'static';
  private readonly byService: Map<string, readonly Endpoint[]> | undefined;
  private readonly all: readonly Endpoint[];

  constructor(addresses: readonly (string | StaticEndpoint)[] | Readonly<Record<string, readonly (string | StaticEndpoint)[]>>) {
    if (Array.isArray(addresses)) {
      this.all = addresses.map(toEndpoint);
    } else {
      this.all = [];
      this.byService = new Map(
        Object.entries(addresses as Record<string, readonly (string | StaticEndpoint)[]>).map(([name, list]) => [
          name,
          list.map(toEndpoint),
        ]),
      );
    }
  }

  async register(_service: ServiceKey, _instance: InstanceInfo): Promise<void> {}
  async deregister(_service: ServiceKey, _instance: InstanceInfo): Promise<void> {}

  subscribe(query: ServiceQuery, listener: EndpointsListener): Disposable {
    const list = this.byService ? (this.byService.get(query.name) ?? []) : this.all;
    let live = true;
    queueMicrotask(() => {
      if (live) listener(list);
    });
    return { dispose: () => (live = false) };
  }

  async close(): Promise<void> {}
}

function toEndpoint(entry: string | StaticEndpoint): Endpoint {
  const spec: StaticEndpoint = typeof entry === 'string' ? parseAddress(entry) : entry;
  if (typeof spec.host !== 'string' || !Number.isInteger(spec.port) || spec.port <= 0 || spec.port > 65535) {
    throw invalidOption('addresses', entry, '"host:port", "grpc://host:port" or { host, port } with a port in 1..65535');
  }
  const grpc = spec.protocols?.grpc;
  const protocol = spec.protocols === undefined ? undefined : grpc !== undefined && spec.protocols.trellis === undefined ? (grpc.tls ? 'grpcs' : 'grpc') : 'trellis';
  return {
    id: endpointId(spec.host, spec.port),
    host: spec.host,
    port: spec.port,
    weight: spec.weight ?? DEFAULT_WEIGHT,
    version: spec.version ?? '*',
    tags: spec.tags ?? {},
    zone: spec.zone,
    ...(spec.protocols ? { protocol, protocols: spec.protocols } : {}),
  };
}

function parseAddress(entry: string): StaticEndpoint {
  const scheme = /^(grpcs?):\/\//.exec(entry);
  const address = scheme ? entry.slice(scheme[0].length) : entry;
  const at = address.lastIndexOf(':');
  const host = address.slice(0, at).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || (/^[a-z][a-z0-9+.-]*:\/\//i.test(entry) && !scheme)) {
    throw invalidOption('addresses', entry, '"host:port", "grpc://host:port" or "grpcs://host:port"');
  }
  if (!scheme) return { host, port };
  return { host, port, protocols: { grpc: scheme[1] === 'grpcs' ? { port, tls: true } : { port } } };
}
