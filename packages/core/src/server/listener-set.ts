import type { ProtocolPorts } from '../endpoint.js';
import { ErrorCodes, TrellisError, invalidOption } from '../errors.js';
import { rejectUnknownKeys } from '../options.js';
import type { Listener, RequestHandler, ServerTransport, ServingView } from '../transport.js';
import type { StreamHandler } from '../transport-stream.js';

/** The native protocol's name, in listener entries and instance documents. */
export const NATIVE_PROTOCOL = 'trellis';

/**
 * One port an `RpcServer` serves (issue #19): `{ protocol: 'trellis', port }` for the native
 * protocol, `{ protocol: 'grpc', port, transport: new GrpcServerTransport({ tls }) }` for gRPC. The
 * kernel knows no protocol but its own: every other one comes as a `ServerTransport` from a plugin.
 */
export interface ListenerOptions {
  /** Published in the instance document (`protocols.<name>`): `trellis`, `grpc`, … */
  readonly protocol: string;
  /** Port to bind (default 0: any free port). */
  readonly port?: number;
  /** Interface to bind (default: the server's `host`). */
  readonly host?: string;
  /** Serves the port. Default for `trellis`: the native TCP transport with the server's `tcp` options; required otherwise. */
  readonly transport?: ServerTransport;
}

/** A listener as `RpcServer.listeners` reports it. */
export interface ListenerAddress {
  readonly protocol: string;
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
}

interface ResolvedListener {
  readonly protocol: string;
  readonly host: string;
  readonly port: number;
  readonly transport: ServerTransport;
  /** Known from the options the kernel built the transport with; else asked of the listener. */
  readonly tls: boolean | undefined;
}

const LISTENER_KEYS: readonly (keyof ListenerOptions)[] = ['protocol', 'port', 'host', 'transport'];
const PROTOCOL_NAME = /^[a-z][a-z0-9+.-]{0,31}$/;

/**
 * Checks `listeners` and fills in defaults. The native transport is built only when an entry for
 * `trellis` gives none (`nativeTransport()`), so a gRPC-only server opens no native port.
 */
export function resolveListeners(
  entries: unknown,
  defaultHost: string,
  nativeTransport: () => { transport: ServerTransport; tls: boolean },
): ResolvedListener[] {
  if (!Array.isArray(entries) || entries.length === 0) {
    throw invalidOption('listeners', entries, "a non-empty array of { protocol, port, transport }, e.g. [{ protocol: 'trellis', port: 7001 }]");
  }
  const seen = new Set<string>();
  const resolved = entries.map((entry: unknown, index): ResolvedListener => {
    const name = `listeners[${index}]`;
    if (typeof entry !== 'object' || entry === null) throw invalidOption(name, entry, 'an object { protocol, port, host, transport }');
    rejectUnknownKeys('listener', entry, LISTENER_KEYS, `${name}.`);
    const { protocol, port, host, transport } = entry as ListenerOptions;
    if (typeof protocol !== 'string' || !PROTOCOL_NAME.test(protocol)) {
      throw invalidOption(`${name}.protocol`, protocol, "a protocol name such as 'trellis' or 'grpc' (lower case letters, digits, + . -)");
    }
    if (seen.has(protocol)) {
      throw invalidOption(`${name}.protocol`, protocol, 'a protocol no other listener serves (the instance document has one port per protocol)');
    }
    seen.add(protocol);
    if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) {
      throw invalidOption(`${name}.port`, port, 'an integer in 0..65535');
    }
    if (host !== undefined && typeof host !== 'string') throw invalidOption(`${name}.host`, host, 'a string');
    if (transport !== undefined && typeof (transport as Partial<ServerTransport>)?.listen !== 'function') {
      throw invalidOption(`${name}.transport`, transport, 'a ServerTransport (an object with listen())');
    }
    if (transport === undefined && protocol !== NATIVE_PROTOCOL) {
      throw invalidOption(`${name}.transport`, transport, `the ServerTransport that serves ${protocol} (e.g. new GrpcServerTransport() from @trellis/transport-grpc)`);
    }
    const native = transport === undefined ? nativeTransport() : undefined;
    return {
      protocol,
      host: host ?? defaultHost,
      port: port ?? 0,
      transport: transport ?? native!.transport,
      tls: native?.tls,
    };
  });
  // The native listener comes first wherever it was listed: its port is the registry key and what
  // consumers that know no `protocols` dial.
  return [...resolved.filter((l) => l.protocol === NATIVE_PROTOCOL), ...resolved.filter((l) => l.protocol !== NATIVE_PROTOCOL)];
}

/** For the instance document: every protocol with its port (the primary's included). */
export function protocolPorts(addresses: readonly ListenerAddress[]): ProtocolPorts {
  const out: Record<string, { port: number; tls: boolean }> = {};
  for (const { protocol, port, tls } of addresses) out[protocol] = { port, tls };
  return out;
}

/**
 * The listeners of one `RpcServer`, each a `ServerTransport` given the same dispatch, driven as one:
 * they open together (one that fails closes those already open), go away, drain and close together.
 * The first is the primary (the native one when there is one): its port is `server.port` and the
 * registry key.
 */
export class ListenerSet {
  private constructor(private readonly bound: readonly { protocol: string; listener: Listener; tls: boolean }[]) {}

  /**
   * Opens every listener in order; rejects with `ERR_LISTEN_FAILED` (the transport's error as cause)
   * after closing those already open, so a failed start leaves no port behind.
   */
  static async open(listeners: readonly ResolvedListener[], serving: ServingView, handler: RequestHandler, streams?: StreamHandler): Promise<ListenerSet> {
    const bound: { protocol: string; listener: Listener; tls: boolean }[] = [];
    for (const spec of listeners) {
      let listener: Listener;
      try {
        listener = await spec.transport.listen({ host: spec.host, port: spec.port, serving }, handler, streams);
      } catch (error) {
        await Promise.allSettled(bound.map((b) => b.listener.close()));
        throw new TrellisError(
          ErrorCodes.LISTEN_FAILED,
          `the ${spec.protocol} listener cannot listen on ${spec.host}:${spec.port}: ${(error as Error)?.message ?? String(error)}`,
          { cause: error },
        );
      }
      bound.push({ protocol: spec.protocol, listener, tls: spec.tls ?? listener.tls ?? false });
    }
    return new ListenerSet(bound);
  }

  get primary(): Listener {
    return this.bound[0]!.listener;
  }

  get size(): number {
    return this.bound.length;
  }

  get addresses(): ListenerAddress[] {
    return this.bound.map(({ protocol, listener, tls }) => ({ protocol, host: listener.host, port: listener.port, tls }));
  }

  get connectionCount(): number {
    let count = 0;
    for (const { listener } of this.bound) count += listener.connectionCount;
    return count;
  }

  /** Calls and streams in flight on every listener that counts them (undefined when none does). */
  get inflightCount(): number | undefined {
    let count: number | undefined;
    for (const { listener } of this.bound) if (listener.inflightCount !== undefined) count = (count ?? 0) + listener.inflightCount;
    return count;
  }

  goAway(reason: string): void {
    for (const { listener } of this.bound) listener.goAway(reason);
  }

  /** handOver() where a listener has it, else goAway(). */
  handOver(reason: string): void {
    for (const { listener } of this.bound) {
      if (listener.handOver) listener.handOver(reason);
      else listener.goAway(reason);
    }
  }

  async drained(): Promise<void> {
    await Promise.all(this.bound.map(({ listener }) => listener.drained()));
  }

  /** Closes every listener, even when one fails; reports the first failure after all closed. */
  async close(): Promise<void> {
    const outcomes = await Promise.allSettled(this.bound.map(({ listener }) => listener.close()));
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
