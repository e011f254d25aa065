import type { Clock } from '../clock.js';
import type { DeadlineTimer } from '../deadline-timer.js';
import { methodKind, type MessageCodec, type MethodDescriptor } from '../definition.js';
import { Code, notExecuted, RpcError } from '../errors.js';
import type { Metadata } from '../metadata.js';
import type { ServiceKey } from '../service-key.js';
import type { PeerInfo } from '../transport.js';
import type { InboundStream, ServerStreamExchange, StreamHandler, StreamKind } from '../transport-stream.js';
import { deadlineBudget, ServerCall } from './server-call.js';
import type { ServerInvoker } from './server-invocation.js';
import type { Handler, ServiceTable } from './service-table.js';

/** What the stream dispatch needs of its server. */
export interface StreamDispatchSettings {
  readonly table: ServiceTable;
  readonly clock: Clock;
  readonly timer: DeadlineTimer;
  /** The server interceptor chain (whose bottom calls `StreamServerCall.runHandler` for streams). */
  readonly invoker: () => ServerInvoker;
  /** The status a caller gets for a thrown error (redaction included), as for unary calls. */
  readonly errorForCaller: (error: unknown, method: string) => RpcError;
}

const noop = (): void => undefined;

/**
 * The server's stream entry (issue #18; docs/architecture.md, "Streams"): looks the method up,
 * checks its kind, decodes the request (server-streaming) or wraps the request messages in a
 * decoding iterable, and runs the server interceptor chain once around the whole handler.
 */
export function createStreamDispatch(settings: StreamDispatchSettings): StreamHandler {
  const dispatch = (stream: InboundStream, exchange: ServerStreamExchange): void => {
    try {
      open(settings, stream, exchange);
    } catch (error) {
      // Nothing thrown here may reach the transport's reader loop.
      try {
        exchange.fail(new RpcError(Code.INTERNAL, `the server could not open the stream: ${(error as Error)?.message ?? String(error)}`));
      } catch { /* the transport cannot answer at all: the deadline ends the stream */ }
    }
  };
  return Object.assign(dispatch, { methodKind: (service: string, method: string) => settings.table.methodKind(service, method) });
}

function open(settings: StreamDispatchSettings, stream: InboundStream, exchange: ServerStreamExchange): void {
  const route = settings.table.route(stream.group, stream.service, stream.version, stream.method);
  if (route instanceof RpcError) return exchange.fail(route);
  const { service, entry } = route;
  const what = `${stream.service}/${stream.method}`;
  const kind = methodKind(entry.method);
  if (kind !== stream.kind) {
    return exchange.fail(notExecuted(Code.UNIMPLEMENTED, `method ${what} is ${kind}, but the client opened it as a ${stream.kind} stream (are both built from the same .proto?)`));
  }
  const now = settings.clock.now();
  const budget = deadlineBudget(stream.timeoutMs, entry.timeoutMs);
  const counts = { messagesReceived: 0, messagesSent: 0 };
  const start = (request: unknown) => {
    const call = new StreamServerCall(entry.service, entry.method, request, stream.metadata, now, budget, stream.attempt, stream.peer, settings.timer, exchange, kind, what, counts);
    // Open from the chain's start to the handler's end (or the transport's abort), counted once.
    service.openStreams++;
    let open = true;
    call.onDone(() => {
      if (!open) return;
      open = false;
      service.openStreams--;
    });
    call.serve(settings);
  };
  if (kind !== 'server-streaming') return start(decodeEach(exchange.requests, entry.method.requestCodec, what, counts));
  counts.messagesReceived = 1;
  readSingle(exchange.requests).then(
    (bytes) => {
      if (exchange.signal.aborted) return;
      let message: unknown;
      try {
        message = entry.method.requestCodec.decode(bytes);
      } catch (error) {
        return exchange.fail(notExecuted(Code.INVALID_ARGUMENT, `request for ${what} could not be decoded: ${(error as Error).message}`));
      }
      start(message);
    },
    (error: unknown) => {
      if (!exchange.signal.aborted) exchange.fail(RpcError.from(error));
    },
  );
}

/** The one request message of a server-streaming call (the client half-closes after it). */
async function readSingle(requests: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const iterator = requests[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done === true) throw notExecuted(Code.INVALID_ARGUMENT, 'the client sent no request message for a server-streaming call');
  const end = await iterator.next();
  if (end.done !== true) {
    await iterator.return?.();
    throw notExecuted(Code.INVALID_ARGUMENT, 'the client sent more than one request message for a server-streaming call');
  }
  return first.value;
}

/** The handler's `requests`: decoded one at a time, as the handler takes them (its pace is the flow control). */
async function* decodeEach(requests: AsyncIterable<Uint8Array>, codec: MessageCodec, what: string, counts: { messagesReceived: number }): AsyncGenerator<unknown> {
  for await (const bytes of requests) {
    counts.messagesReceived++;
    let message: unknown;
    try {
      message = codec.decode(bytes);
    } catch (error) {
      throw new RpcError(Code.INVALID_ARGUMENT, `a request message for ${what} could not be decoded: ${(error as Error).message}`);
    }
    yield message;
  }
}

/**
 * A stream call as server interceptors and the handler see it: a `ServerCall` (metadata, peer,
 * deadline, signal, trailers) with response headers, and the exchange it answers on. Its signal is
 * armed at once — the deadline ends a stream even when the handler never looks at it.
 */
export class StreamServerCall extends ServerCall {
  private headerMap: Metadata | undefined;
  private headersSent = false;
  /** The exchange is over (ended, failed, or the transport aborted it): nothing more is sent. */
  private over = false;
  private iterator: AsyncIterator<unknown> | undefined;

  constructor(
    service: ServiceKey,
    method: MethodDescriptor,
    request: unknown,
    metadata: Metadata,
    receivedAt: number,
    budgetMs: number,
    attempt: number,
    peer: PeerInfo,
    timer: DeadlineTimer,
    private readonly exchange: ServerStreamExchange,
    readonly kind: StreamKind,
    private readonly what: string,
    /** `ServerInvocation.stream`: this call's message counts, kept by the dispatch and the handler loop. */
    readonly stream: { messagesReceived: number; messagesSent: number },
  ) {
    super(service, method, request, metadata, receivedAt, budgetMs, attempt, peer, timer);
  }

  override get responseHeaders(): Metadata {
    return (this.headerMap ??= new Map());
  }

  private doneHook: (() => void) | undefined;

  /** Called when the stream is over on this side: the handler is done or the transport aborted it. */
  onDone(fn: () => void): void {
    this.doneHook = fn;
  }

  /** Runs the interceptor chain around the handler and ends the exchange with its outcome. */
  serve(settings: StreamDispatchSettings): void {
    const exchange = this.exchange;
    const onTransportAbort = () => {
      this.doneHook?.();
      this.over = true;
      const reason = exchange.signal.reason;
      this.abort(reason instanceof RpcError ? reason : new RpcError(Code.CANCELLED, 'the client cancelled the stream'));
    };
    if (exchange.signal.aborted) return onTransportAbort();
    exchange.signal.addEventListener('abort', onTransportAbort, { once: true });
    // The deadline (and a transport abort) stop the handler: its generator is returned.
    this.signal.addEventListener('abort', () => {
      this.closeIterator();
      if (this.over) return;
      this.over = true;
      this.finish();
      const reason = this.signal.reason as RpcError;
      try {
        exchange.fail(reason);
      } catch { /* the transport cannot answer: nothing left to tell the client */ }
    }, { once: true });
    let result: Promise<unknown>;
    try {
      result = settings.invoker()(this);
    } catch (error) {
      result = Promise.reject(error);
    }
    result.then(
      (response) => {
        exchange.signal.removeEventListener('abort', onTransportAbort);
        this.doneHook?.();
        this.finish();
        if (this.over) return;
        this.over = true;
        try {
          if (this.kind === 'client-streaming') {
            let body: Uint8Array;
            try {
              body = this.method.responseCodec.encode(response);
            } catch (error) {
              return exchange.fail(new RpcError(Code.INTERNAL, `response of ${this.what} could not be encoded: ${(error as Error).message}`));
            }
            this.sendHeaders();
            exchange.send(body)?.catch(noop);
          }
          exchange.end(this.trailers);
        } catch (thrown) {
          answerFailed(exchange, thrown);
        }
      },
      (error: unknown) => {
        exchange.signal.removeEventListener('abort', onTransportAbort);
        this.doneHook?.();
        this.finish();
        this.closeIterator();
        if (this.over) return;
        this.over = true;
        try {
          exchange.fail(settings.errorForCaller(error, this.what));
        } catch (thrown) {
          answerFailed(exchange, thrown);
        }
      },
    );
  }

  /**
   * The bottom of the interceptor chain: runs the handler to its end. Client-streaming resolves with
   * the response message; the other kinds drive the generator, sending each yielded message and
   * waiting whenever the stream's send credit is used up.
   */
  async runHandler(handler: Handler): Promise<unknown> {
    const result = handler(this.request, this);
    if (this.kind === 'client-streaming') {
      this.sendHeaders();
      const response = await result;
      // Counted here, inside the chain, so interceptors see it when their next() resolves.
      this.stream.messagesSent = 1;
      return response;
    }
    const iterable = result as Partial<AsyncIterable<unknown>> | null;
    if (iterable === null || typeof iterable !== 'object' || typeof iterable[Symbol.asyncIterator] !== 'function') {
      throw new RpcError(Code.INTERNAL, `the handler of ${this.kind} method ${this.what} returned ${iterable === null ? 'null' : typeof iterable}, not an async iterable (write it as async *${this.method.localName}(…))`);
    }
    const iterator = (this.iterator = iterable[Symbol.asyncIterator]!());
    return new Promise<undefined>((resolve, reject) => this.drive(iterator, resolve, reject));
  }

  /**
   * Sends each message the handler yields, waiting whenever the stream's send credit is used up;
   * resolves when the handler is done (or the stream is over), rejects on a failed encode or send or
   * a handler that threw — its generator returned first. A chain of `.then` callbacks made once per
   * stream rather than an `await` per message: one async-function resume less per message (≈ 30 ns
   * of the server's ≈ 1 µs on the stream bench; docs/performance.md, "Streams, session 8").
   */
  private drive(iterator: AsyncIterator<unknown>, resolve: (value: undefined) => void, reject: (error: unknown) => void): void {
    const codec = this.method.responseCodec;
    const exchange = this.exchange;
    // The codec's fast path, where codec and transport both have it: each message is encoded straight
    // into the connection's write batch (no body buffer per message).
    const inPlace = codec.encodedLength !== undefined && codec.encodeInto !== undefined && exchange.sendEncoded !== undefined
      ? codec as Required<MessageCodec>
      : undefined;
    const counts = this.stream;
    const fail = (error: unknown): void => {
      this.closeIterator();
      reject(error);
    };
    // `Promise.resolve`: an iterator's next() (or a transport's send) may hand back a plain value or a
    // foreign thenable, which `await` took as well; a native promise is passed through as it is.
    const next = (): void => {
      let step: IteratorResult<unknown> | PromiseLike<IteratorResult<unknown>>;
      try {
        step = iterator.next();
      } catch (error) {
        return fail(error);
      }
      Promise.resolve(step).then(onStep, fail);
    };
    const onStep = (item: IteratorResult<unknown>): void => {
      let waiting: Promise<void> | undefined;
      try {
        if (item.done === true || this.over) return resolve(undefined);
        const message = item.value;
        let body: Uint8Array | undefined;
        let length = 0;
        try {
          if (inPlace !== undefined) length = inPlace.encodedLength(message);
          else body = codec.encode(message);
        } catch (error) {
          throw new RpcError(Code.INTERNAL, `a response message of ${this.what} could not be encoded: ${(error as Error).message}`);
        }
        counts.messagesSent++;
        waiting = body === undefined ? exchange.sendEncoded!(length, inPlace!, message) : exchange.send(body);
      } catch (error) {
        return fail(error);
      }
      if (waiting === undefined) return next();
      Promise.resolve(waiting).then(next, fail);
    };
    let first: IteratorResult<unknown> | PromiseLike<IteratorResult<unknown>>;
    try {
      first = iterator.next(); // runs the handler up to its first await or yield
    } catch (error) {
      return fail(error);
    }
    this.sendHeaders();
    Promise.resolve(first).then(onStep, fail);
  }

  private sendHeaders(): void {
    if (this.headersSent || this.over) return;
    this.headersSent = true;
    this.exchange.sendHeaders(this.headerMap);
  }

  /** Returns the handler's generator so its `finally` runs (cancel, deadline, a failed send). */
  private closeIterator(): void {
    const iterator = this.iterator;
    if (iterator === undefined) return;
    this.iterator = undefined;
    try {
      iterator.return?.()?.catch(noop);
    } catch { /* a generator that throws while closing has nothing more to say */ }
  }
}

/** A unary request for a stream method (an old client, or one built from another .proto): never ran. */
export function refuseStreamAsUnary(method: MethodDescriptor, exchange: { fail(error: RpcError): void }): void {
  exchange.fail(notExecuted(Code.UNIMPLEMENTED, `method ${method.service}/${method.name} is ${methodKind(method)}; it cannot be called as a unary call (the client needs stream support)`));
}

function answerFailed(exchange: ServerStreamExchange, thrown: unknown): void {
  try {
    exchange.fail(new RpcError(Code.INTERNAL, `the server could not end the stream: ${(thrown as Error)?.message ?? String(thrown)}`));
  } catch { /* the transport cannot answer at all */ }
}
