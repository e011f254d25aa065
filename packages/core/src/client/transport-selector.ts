import type { Endpoint, ProtocolPorts } from '../endpoint.js';
import { Code, RpcError, invalidOption } from '../errors.js';
import type { Disposable } from '../registry.js';
import type {
  ClientTransport, ConnectionEvent, ConnectionState, InboundResponse, OutboundRequest, ResponseSink,
} from '../transport.js';
import type { ClientStream, OutboundStream } from '../transport-stream.js';

/** Where calls to one endpoint go: the transport of the protocol chosen, and the endpoint as that transport sees it. */
interface Route {
  readonly protocol: string;
  readonly transport: ClientTransport;
  /** Same id, host and state as the directory's endpoint; `port` and `protocol` of the chosen protocol. */
  readonly endpoint: Endpoint;
}

/**
 * A transport per endpoint (issue #19): the client's ClientTransport when it speaks several
 * protocols (`RpcClient({ transports: { trellis, grpc }, protocols })`). Per endpoint it picks the
 * first protocol of the client's preference the endpoint serves (its instance document's
 * `protocols`, else its one `protocol` on `port`), and sends, pings, retains and reports connection
 * states through that protocol's transport. Endpoint ids stay the registry's `host:port`, so LALB,
 * breakers and health keep their state whatever the protocol.
 *
 * An endpoint that serves none of the client's protocols reads as `closed` (the health router
 * avoids it) and its calls fail UNAVAILABLE without having run (transparent retry goes elsewhere).
 */
export class TransportSelector implements ClientTransport {
  /** Chosen once per endpoint object: the directory hands the same objects until the list changes. */
  private readonly routes = new WeakMap<Endpoint, Route | null>();
  /** A transport's view of an endpoint → the directory's, to report connection events as consumers know them. */
  private readonly originals = new WeakMap<Endpoint, Endpoint>();
  private readonly listeners = new Set<(event: ConnectionEvent) => void>();
  private readonly subscriptions: Disposable[];
  readonly openStream: ((endpoint: Endpoint, stream: OutboundStream) => ClientStream) | undefined;

  /**
   * @param transports protocol name → its transport
   * @param protocols preference order (every one must have a transport)
   * @param owned the transports this selector closes on close() (those the client built itself)
   */
  constructor(
    private readonly transports: Readonly<Record<string, ClientTransport>>,
    private readonly protocols: readonly string[],
    private readonly owned: readonly ClientTransport[] = [],
  ) {
    for (const protocol of protocols) {
      if (transports[protocol] === undefined) throw invalidOption('protocols', protocols, `protocols that have a transport in \`transports\` (${Object.keys(transports).join(', ')}); ${protocol} has none`);
    }
    this.subscriptions = Object.values(transports).map((transport) => transport.onStateChange((event) => {
      const endpoint = this.originals.get(event.endpoint) ?? event.endpoint;
      for (const listener of this.listeners) listener(endpoint === event.endpoint ? event : { ...event, endpoint });
    }));
    this.openStream = Object.values(transports).some((t) => t.openStream) ? (endpoint, stream) => this.stream(endpoint, stream) : undefined;
  }

  /** The protocol calls to this endpoint use, or undefined when it serves none of the client's. */
  protocolOf(endpoint: Endpoint): string | undefined {
    return this.route(endpoint)?.protocol;
  }

  call(endpoint: Endpoint, request: OutboundRequest): Promise<InboundResponse> {
    const route = this.route(endpoint);
    if (route === undefined) return Promise.reject(this.unreachable(endpoint));
    return route.transport.call(route.endpoint, request);
  }

  send(endpoint: Endpoint, request: OutboundRequest, sink: ResponseSink): void {
    const route = this.route(endpoint);
    if (route === undefined) return sink.onError(this.unreachable(endpoint));
    if (route.transport.send) return route.transport.send(route.endpoint, request, sink);
    route.transport.call(route.endpoint, request).then(
      (response) => sink.onResponse(response.body, response.metadata),
      (error: unknown) => sink.onError(RpcError.from(error)),
    );
  }

  ping(endpoint: Endpoint, timeoutMs: number): Promise<number> {
    const route = this.route(endpoint);
    if (route === undefined) return Promise.reject(this.unreachable(endpoint));
    return route.transport.ping(route.endpoint, timeoutMs);
  }

  state(endpoint: Endpoint): ConnectionState {
    const route = this.route(endpoint);
    return route === undefined ? 'closed' : route.transport.state(route.endpoint);
  }

  onStateChange(listener: (event: ConnectionEvent) => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  /** Each transport keeps the endpoints routed to it, and closes connections to the rest. */
  retain(endpoints: readonly Endpoint[]): void {
    const byTransport = new Map<ClientTransport, Endpoint[]>(Object.values(this.transports).map((t) => [t, []]));
    for (const endpoint of endpoints) {
      const route = this.route(endpoint);
      if (route !== undefined) byTransport.get(route.transport)!.push(route.endpoint);
    }
    for (const [transport, list] of byTransport) transport.retain(list);
  }

  async close(): Promise<void> {
    for (const subscription of this.subscriptions) subscription.dispose();
    await Promise.all(this.owned.map((transport) => transport.close()));
  }

  private route(endpoint: Endpoint): Route | undefined {
    let route = this.routes.get(endpoint);
    if (route === undefined) {
      route = this.choose(endpoint);
      this.routes.set(endpoint, route);
      if (route !== null) this.originals.set(route.endpoint, endpoint);
    }
    return route ?? undefined;
  }

  private choose(endpoint: Endpoint): Route | null {
    const served = servedProtocols(endpoint);
    for (const protocol of this.protocols) {
      const where = served[protocol];
      if (where === undefined) continue;
      const view = where.port === endpoint.port && protocol === endpoint.protocol ? endpoint : { ...endpoint, port: where.port, protocol };
      return { protocol, transport: this.transports[protocol]!, endpoint: view };
    }
    return null;
  }

  private unreachable(endpoint: Endpoint): RpcError {
    const served = Object.keys(servedProtocols(endpoint)).join(', ');
    return new RpcError(
      Code.UNAVAILABLE,
      `endpoint ${endpoint.id} serves ${served}; this client speaks ${this.protocols.join(', ')} (add a transport for one of them)`,
      { mayHaveRun: false },
    );
  }

  private stream(endpoint: Endpoint, stream: OutboundStream): ClientStream {
    const route = this.route(endpoint);
    if (route === undefined) return failedStream(this.unreachable(endpoint));
    if (route.transport.openStream === undefined) {
      return failedStream(new RpcError(Code.UNIMPLEMENTED, `the ${route.protocol} transport carries no streams`, { mayHaveRun: false }));
    }
    return route.transport.openStream(route.endpoint, stream);
  }
}

/** What an endpoint serves: its document's `protocols`, else its one protocol on `port` (old providers: the native one). */
export function servedProtocols(endpoint: Endpoint): ProtocolPorts {
  return endpoint.protocols ?? { [endpoint.protocol ?? 'trellis']: { port: endpoint.port } };
}

/** A stream that never opened: every part of it fails with `error`. */
function failedStream(error: RpcError): ClientStream {
  const rejected = Promise.reject(error);
  rejected.catch(() => {});
  return {
    headers: rejected,
    trailers: rejected,
    responses: {
      [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(error) }),
    },
    send: () => Promise.reject(error),
    end: () => {},
    cancel: () => {},
  };
}
