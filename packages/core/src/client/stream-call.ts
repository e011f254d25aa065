import type { Pick } from '../balancer/load-balancer.js';
import type { Clock } from '../clock.js';
import type { Endpoint } from '../endpoint.js';
import { blameEndpoint, Code, RpcError } from '../errors.js';
import { withInvocation, type EndpointInvoker, type Invocation, type Result } from '../invocation.js';
import type { ServiceKey } from '../service-key.js';
import type { ResponseStream } from '../stream.js';
import type { ClientTransport } from '../transport.js';
import type { BufferedMessages, ClientStream, StreamKind } from '../transport-stream.js';
import { AttemptRecord, type AttemptOwner } from './attempt-record.js';
import type { CallContext, Observers } from './call-state.js';
import { noStreams, RequestPump } from './request-pump.js';

/** What the stream half of the pipeline needs from the pipeline. */
export interface StreamPipeline {
  readonly service: ServiceKey;
  readonly clock: Clock;
  readonly transport: ClientTransport;
  readonly observers: Observers;
  readonly transparentRetries: number;
  select(invocation: Invocation): Pick;
  endpointChain(): EndpointInvoker | undefined;
  callEnded(call: CallContext, error: RpcError | undefined, endpoint: Endpoint | undefined): void;
}

const DONE: IteratorResult<never> = Object.freeze({ done: true, value: undefined });
const noop = (): void => undefined;

/**
 * The bottom of the cluster chain for stream calls (issue #18): pick once, open the stream, resolve
 * the chain's `next()` at set-up with the ResponseStream; report set-up as the attempt
 * (`attemptEnd`, `Pick.done`) and the stream's end as the call's end (`callEnd`). Transparent
 * re-sends happen only while the stream is not set up. See docs/architecture.md, "Streams".
 */
export class StreamCaller implements AttemptOwner {
  constructor(private readonly pipeline: StreamPipeline) {}

  /** The cluster chain's bottom for a stream call: one attempt, with its transparent re-sends. */
  invoke(invocation: Invocation): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      let pick: Pick;
      try {
        pick = this.pipeline.select(invocation);
      } catch (thrown) {
        return reject(thrown);
      }
      const record = new AttemptRecord(this, invocation, pick, pick.endpoint, this.pipeline.clock.now(), this.pipeline.observers.of(invocation));
      record.resolveResult = resolve;
      record.rejectResult = reject;
      this.send(record);
    });
  }

  private send(record: AttemptRecord): void {
    const { observers } = this.pipeline;
    if (record.hooks.watchesAttempts) observers.attemptStart(record.hooks, record);
    const endpointChain = this.pipeline.endpointChain();
    let pending: Promise<Result>;
    try {
      pending = endpointChain === undefined ? this.open(record.invocation, record.endpoint) : endpointChain(record.invocation, record.endpoint);
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (result) => this.setUp(record, result),
      (thrown: unknown) => this.failed(record, RpcError.from(thrown)),
    );
  }

  /** AttemptOwner: stream attempts are settled by `send`'s promise, never by a unary answer. */
  answered(): void {}

  private setUp(record: AttemptRecord, result: Result): void {
    const { observers, clock } = this.pipeline;
    record.endReading = clock.now();
    if (record.hooks.watchesAttempts) observers.attemptEnd(record.hooks, record);
    record.pick.done(record);
    record.resolveResult!(result);
  }

  /** A set-up failed: report it, then re-send it transparently (never ran) or reject. */
  failed(record: AttemptRecord, error: RpcError): void {
    const { observers, clock, transparentRetries } = this.pipeline;
    const now = clock.now();
    record.failWith(error, now);
    if (record.hooks.watchesAttempts) observers.attemptEnd(record.hooks, record);
    record.pick.done(record);
    const inv = record.invocation;
    if (record.mayResend(error, now, transparentRetries)) {
      const excluded = new Set(inv.excluded);
      excluded.add(record.endpoint.id);
      const next = withInvocation(inv, { excluded });
      let pick: Pick;
      try {
        pick = this.pipeline.select(next);
      } catch (thrown) {
        return record.rejectResult!(thrown);
      }
      record.resend(next, pick, now);
      return this.send(record);
    }
    record.rejectResult!(error);
  }

  /**
   * Opens the stream on the transport (the endpoint chain's bottom for stream calls) and resolves
   * at set-up. Never throws.
   */
  open(invocation: Invocation, endpoint: Endpoint): Promise<Result> {
    const { transport, service, clock } = this.pipeline;
    const method = invocation.method;
    const what = `${method.service}/${method.name}`;
    const kind = method.kind as StreamKind;
    if (transport.openStream === undefined) return Promise.reject(noStreams(transport.constructor?.name ?? 'custom', what));
    const remaining = invocation.deadline - clock.now();
    if (remaining <= 0) {
      return Promise.reject(new RpcError(Code.DEADLINE_EXCEEDED, `deadline exceeded before the stream to ${endpoint.id} was opened`, { mayHaveRun: false }));
    }
    let first: Uint8Array | undefined;
    if (kind === 'server-streaming') {
      try {
        first = method.requestCodec.encode(invocation.request);
      } catch (error) {
        return Promise.reject(new RpcError(Code.INVALID_ARGUMENT, `request for ${what} could not be encoded: ${(error as Error).message}`, { mayHaveRun: false }));
      }
    }
    const call = invocation.context as CallContext;
    let pump: RequestPump | undefined;
    if (first === undefined) {
      pump = call.pump;
      if (pump === undefined || pump.source !== invocation.request) pump = call.pump = new RequestPump(invocation.request, method.requestCodec, what);
    }
    let stream: ClientStream;
    try {
      stream = transport.openStream(endpoint, {
        group: service.group,
        service: service.name,
        version: endpoint.version === '*' ? '' : endpoint.version,
        method: method.name,
        kind,
        metadata: invocation.metadata,
        timeoutMs: Math.ceil(remaining),
        attempt: invocation.attempt,
        signal: invocation.signal,
      });
    } catch (error) {
      return Promise.reject(RpcError.from(error));
    }
    if (first !== undefined) {
      try {
        stream.send(first)?.catch(noop); // a failure shows on headers / responses
        stream.end();
      } catch { /* idem */ }
    } else {
      pump!.attach(stream);
    }
    const responses = new KernelResponseStream(this.pipeline, call, invocation, endpoint, stream, pump);
    return stream.headers.then(
      (headers) => {
        pump?.setUp();
        responses.setUp(clock.now() - call.startedAt);
        call.setUpStream = responses;
        return { response: responses, metadata: headers, endpoint };
      },
      (error: unknown) => {
        stream.cancel();
        throw RpcError.from(error);
      },
    );
  }
}

/**
 * The decoded responses of one set-up stream: what the cluster chain's `next()` resolves with. Its
 * end (done, error, or the caller leaving the loop) is the call's end for observers.
 */
export class KernelResponseStream implements ResponseStream, AsyncIterator<unknown> {
  readonly headers: Promise<ReadonlyMap<string, string>>;
  readonly trailers: Promise<ReadonlyMap<string, string>>;
  private inner: AsyncIterator<Uint8Array> | undefined;
  /** The transport's iterator, when it can hand over arrived messages without a promise. */
  private buffered: BufferedMessages | undefined;
  private received = 0;
  private setUpMs = 0;
  private finished = false;

  constructor(
    private readonly pipeline: StreamPipeline,
    private readonly call: CallContext,
    private readonly invocation: Invocation,
    readonly endpoint: Endpoint,
    private readonly stream: ClientStream,
    private readonly pump: RequestPump | undefined,
  ) {
    this.headers = stream.headers;
    this.trailers = stream.trailers;
    this.headers.catch(noop);
    this.trailers.catch(noop);
  }

  setUp(setUpMs: number): void {
    this.setUpMs = setUpMs;
    // A stream that fails while nobody reads it still ends the call for observers. A caller that
    // reads gets the messages that arrived before the error first, so its loop ends the call, and
    // the stream's counts include them (the transport may hold them when the status arrives).
    // The status can arrive with the messages, before the caller had the stream to iterate: wait a
    // turn of the event loop before deciding nobody reads.
    this.trailers.then(noop, (error: unknown) => {
      setImmediate(() => {
        if (this.inner === undefined) this.finish(RpcError.from(error));
      });
    });
  }

  cancel(reason?: string): void {
    this.stream.cancel(reason);
  }

  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    if (this.inner !== undefined) throw new RpcError(Code.FAILED_PRECONDITION, 'a stream\'s responses can be iterated once');
    const inner = (this.inner = this.stream.responses[Symbol.asyncIterator]());
    const buffered = inner as Partial<BufferedMessages>;
    if (typeof buffered.takeBuffered === 'function') this.buffered = buffered as BufferedMessages;
    return this;
  }

  /**
   * The next decoded message. Not an `async` function, and a message that already arrived is taken
   * at once (BufferedMessages): one settled promise per message, the fewest a `for await` allows —
   * the async version cost three more promise turns per message on the stream bench's client.
   */
  next(): Promise<IteratorResult<unknown>> {
    if (this.inner === undefined) this[Symbol.asyncIterator]();
    const bytes = this.buffered?.takeBuffered();
    if (bytes !== undefined) {
      try {
        return Promise.resolve(this.decoded(bytes));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    let pending: Promise<IteratorResult<Uint8Array>>;
    try {
      pending = this.inner!.next();
    } catch (thrown) {
      pending = Promise.reject(thrown);
    }
    return pending.then(this.onItem, this.onError);
  }

  private readonly onItem = (item: IteratorResult<Uint8Array>): IteratorResult<unknown> => {
    if (item.done === true) {
      this.finish(undefined);
      return DONE;
    }
    return this.decoded(item.value);
  };

  private readonly onError = (thrown: unknown): never => {
    const error = RpcError.from(thrown);
    blameEndpoint(error, this.endpoint);
    this.finish(error);
    throw error;
  };

  /** Decodes one message with the method's codec; a message that does not decode cancels the stream. */
  private decoded(bytes: Uint8Array): IteratorResult<unknown> {
    let message: unknown;
    try {
      message = this.invocation.method.responseCodec.decode(bytes);
    } catch (thrown) {
      const error = new RpcError(Code.INTERNAL, `a response from ${this.endpoint.id} for ${this.invocation.method.name} could not be decoded: ${(thrown as Error).message}`);
      this.stream.cancel(error.message);
      this.finish(error);
      throw error;
    }
    this.received++;
    return { done: false, value: message };
  }

  /** The caller left the loop: the stream is cancelled (the server sees CANCELLED). */
  async return(): Promise<IteratorResult<unknown>> {
    if (!this.finished) this.finish(new RpcError(Code.CANCELLED, 'the caller stopped reading the stream'));
    try {
      await this.inner?.return?.();
    } catch { /* closing the transport's iterator cannot fail the caller's loop exit */ }
    this.stream.cancel('the caller stopped reading the stream');
    return DONE;
  }

  private finish(error: RpcError | undefined): void {
    if (this.finished) return;
    this.finished = true;
    this.pump?.stop();
    const call = this.call;
    if (call.streamEnded) return;
    call.streamEnded = true;
    call.stream = {
      setUp: true,
      setUpMs: this.setUpMs,
      messagesSent: this.pump === undefined ? 1 : this.pump.sent,
      messagesReceived: this.received,
    };
    if ((call.hooks ?? this.pipeline.observers.current).watchesCalls) this.pipeline.callEnded(call, error, error?.endpoint ?? this.endpoint);
  }
}

/**
 * What a stub's server- or bidi-streaming method returns at once: the call's ResponseStream before
 * it is set up. Iterating waits for the set-up, then takes the (possibly interceptor-wrapped)
 * responses; `cancel()` before set-up aborts the opening.
 */
export class CallResponseStream implements ResponseStream {
  readonly headers: Promise<ReadonlyMap<string, string>>;
  readonly trailers: Promise<ReadonlyMap<string, string>>;
  private result: Result | undefined;
  private iterated = false;

  constructor(
    private readonly setUp: Promise<Result>,
    private readonly abort: (reason: string) => void,
  ) {
    setUp.then((result) => (this.result = result), noop);
    this.headers = setUp.then((result) => result.metadata);
    this.trailers = setUp.then((result) => {
      const response = result.response as Partial<ResponseStream>;
      return response.trailers instanceof Promise ? response.trailers : new Map<string, string>();
    });
    this.headers.catch(noop);
    this.trailers.catch(noop);
  }

  get endpoint(): Endpoint | undefined {
    return this.result?.endpoint;
  }

  cancel(reason?: string): void {
    const response = this.result?.response as Partial<ResponseStream> | undefined;
    if (typeof response?.cancel === 'function') response.cancel(reason);
    else this.abort(reason ?? 'the caller cancelled the stream');
  }

  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    if (this.iterated) throw new RpcError(Code.FAILED_PRECONDITION, 'a stream\'s responses can be iterated once');
    this.iterated = true;
    let inner: AsyncIterator<unknown> | undefined;
    let left = false;
    const open = async (): Promise<AsyncIterator<unknown>> => {
      if (inner !== undefined) return inner;
      const result = await this.setUp;
      inner = (result.response as AsyncIterable<unknown>)[Symbol.asyncIterator]();
      if (left) await inner.return?.();
      return inner;
    };
    return {
      // Once set up, straight to the response stream's next(): no async wrapper (a promise turn or
      // three per message) between the caller's loop and the messages.
      next: () => {
        if (inner === undefined) return open().then((opened) => opened.next());
        try {
          return inner.next();
        } catch (error) {
          return Promise.reject(error);
        }
      },
      return: async () => {
        left = true;
        if (inner === undefined) this.abort('the caller stopped reading the stream');
        else await inner.return?.();
        return DONE;
      },
    };
  }
}
