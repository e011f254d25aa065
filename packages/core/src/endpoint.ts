/**
 * One provider instance as consumers see it. `id` is `host:port`, stable across registry updates, so
 * plugins can key per-endpoint state (LALB rings, breakers, health) by it.
 */
export interface Endpoint {
  readonly id: string;
  readonly host: string;
  readonly port: number;
  /** Relative weight (default 100), after any warm-up ramp a plugin applies. */
  readonly weight: number;
  /** Provider version of the service (semver), used for the consumer's version range. */
  readonly version: string;
  /** Free-form labels: `lane=gray`, `version=v2`, `zone=…`. Routers select on these. */
  readonly tags: Readonly<Record<string, string>>;
  readonly zone?: string;
  /** Wall-clock ms when the provider started serving (warm-up ramps start from it). */
  readonly startedAt?: number;
  /** The protocol served on `port` (`trellis`, the native one, unless the instance serves no other). */
  readonly protocol?: string;
  /**
   * Every protocol the instance serves, with its port (issue #19): `{ trellis: { port }, grpc: { port,
   * tls } }`. Absent for instances that publish one protocol only (then `protocol` on `port`).
   */
  readonly protocols?: ProtocolPorts;
  /**
   * What the provider declares about its methods (wire names), from `@RpcMethod` on its class: a
   * method it declares idempotent may be retried by consumers even after it may have run there.
   */
  readonly methods?: Readonly<Record<string, MethodTraits>>;
}

/** Where one protocol of an instance is served. */
export interface ProtocolPort {
  readonly port: number;
  /** Served over TLS (for gRPC: TLS with ALPN `h2`, i.e. `grpcs`). */
  readonly tls?: boolean;
}

/** Protocol name → where it is served, e.g. `{ trellis: { port: 7001 }, grpc: { port: 7002, tls: false } }`. */
export type ProtocolPorts = Readonly<Record<string, ProtocolPort>>;

/** A provider's declaration about one method, published with its instance. */
export interface MethodTraits {
  readonly idempotent?: boolean;
}

/** What a provider publishes in the registry: the JSON document at `…/providers/{host:port}`. */
export interface InstanceInfo {
  readonly host: string;
  readonly port: number;
  readonly weight: number;
  readonly version: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly zone?: string;
  readonly protocol: string;
  readonly startedAt: number;
  /**
   * Every protocol served, with its port, next to `port` / `protocol` (the native one and the registry
   * key), so consumers that know only `port` keep working. Absent when the server has one listener.
   */
  readonly protocols?: ProtocolPorts;
  /** Declared per method by the provider (`@RpcMethod({ idempotent })`); absent when none is. */
  readonly methods?: Readonly<Record<string, MethodTraits>>;
}

/**
 * The JSON document a registry stores for an instance: the published fields only, so whatever else
 * an object carries never leaks into a shared registry. Registries write this and read it back
 * with parseInstance.
 */
export function instanceDocument(info: InstanceInfo): string {
  const { host, port, weight, version, tags, zone, protocol, startedAt, protocols, methods } = info;
  return JSON.stringify({
    host, port, weight, version, tags, zone, protocol, startedAt, ...(protocols ? { protocols } : {}), ...(methods ? { methods } : {}),
  });
}

export const DEFAULT_WEIGHT = 100;

export function endpointId(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function endpointFromInstance(info: InstanceInfo): Endpoint {
  return {
    id: endpointId(info.host, info.port),
    host: info.host,
    port: info.port,
    weight: info.weight,
    version: info.version,
    tags: info.tags,
    zone: info.zone,
    startedAt: info.startedAt,
    protocol: info.protocol,
    ...(info.protocols ? { protocols: info.protocols } : {}),
    ...(info.methods ? { methods: info.methods } : {}),
  };
}

/**
 * Parses registry JSON defensively: a malformed document from a shared registry must not crash the
 * consumer; it is skipped (returns undefined) and the caller reports it.
 */
export function parseInstance(json: string): InstanceInfo | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  if (typeof r.host !== 'string' || typeof r.port !== 'number' || !Number.isInteger(r.port)) return undefined;
  const tags: Record<string, string> = {};
  if (typeof r.tags === 'object' && r.tags !== null) {
    for (const [k, v] of Object.entries(r.tags)) if (typeof v === 'string') tags[k] = v;
  }
  return {
    host: r.host,
    port: r.port,
    weight: typeof r.weight === 'number' && r.weight >= 0 ? r.weight : DEFAULT_WEIGHT,
    version: typeof r.version === 'string' ? r.version : '0.0.0',
    tags,
    zone: typeof r.zone === 'string' ? r.zone : undefined,
    protocol: typeof r.protocol === 'string' ? r.protocol : 'trellis',
    startedAt: typeof r.startedAt === 'number' ? r.startedAt : 0,
    ...parseProtocols(r.protocols),
    ...parseMethods(r.methods),
  };
}

/** `methods` from registry JSON: known traits of the right type only; anything else is ignored. */
function parseMethods(raw: unknown): { methods?: Readonly<Record<string, MethodTraits>> } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return {};
  const methods: Record<string, MethodTraits> = {};
  let any = false;
  for (const [name, traits] of Object.entries(raw)) {
    if (typeof traits !== 'object' || traits === null) continue;
    const idempotent = (traits as Record<string, unknown>).idempotent;
    if (typeof idempotent === 'boolean') {
      methods[name] = { idempotent };
      any = true;
    }
  }
  return any ? { methods } : {};
}

/**
 * `protocols` from registry JSON: entries whose name is a short token and whose port is a TCP port;
 * a bad entry is ignored (the instance stays usable through its other protocols and `port`), a `tls`
 * that is not a boolean reads as cleartext.
 */
function parseProtocols(raw: unknown): { protocols?: ProtocolPorts } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return {};
  const protocols: Record<string, ProtocolPort> = {};
  let any = false;
  for (const [name, entry] of Object.entries(raw)) {
    if (!/^[a-z][a-z0-9+.-]{0,31}$/.test(name) || typeof entry !== 'object' || entry === null) continue;
    const { port, tls } = entry as Record<string, unknown>;
    if (typeof port !== 'number' || !Number.isInteger(port) || port <= 0 || port > 65535) continue;
    protocols[name] = typeof tls === 'boolean' ? { port, tls } : { port };
    any = true;
  }
  return any ? { protocols } : {};
}
